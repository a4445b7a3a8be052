#:project ../src/MaMA.Data/MaMA.Data.csproj
// How much BI-RADS signal a ViT's input carries at a given size, with no network at all: a few
// hand-made features per image and a class-weighted softmax regression trained on the training
// split, scored by balanced accuracy on the test split (all of it, chance 1/7). Used to choose the
// demo ViT's patch size (MaMAConfig.Demo): at 70 px, features of 3x3 pixel maxima reach about 0.51,
// of 7 px patch means about 0.31, of 14 px patch means about 0.18.
//
//   mama synth --out D --studies 800 --size 96 --seed 0
//   mama captions --embed D --split train --out train.jsonl; mama captions --embed D --split test --out test.jsonl
//   dotnet run --file tools/phantom-birads-features.cs -- train.jsonl test.jsonl [SIZE=70] [pixels|PATCH]
using System.Text.Json;
using MaMA.Data.Images;
using MaMA.Data.Images.Transforms;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: phantom-birads-features TRAIN.jsonl TEST.jsonl [SIZE=70] [pixels|PATCH]");
    return 2;
}
int size = args.Length > 2 ? int.Parse(args[2]) : 70;
string mode = args.Length > 3 ? args[3] : "pixels";
int patch = mode == "pixels" ? 0 : int.Parse(mode);
// The evaluation transform of the probes: Otsu crop, resize to SIZE x SIZE, centre crop.
var transform = new MammoTransform(new MammoTransformOptions { ImageSize = size, CropSize = size });

(double[][] X, int[] Y) Load(string file)
{
    var xs = new List<double[]>();
    var ys = new List<int>();
    foreach (string line in File.ReadLines(file))
    {
        using JsonDocument j = JsonDocument.Parse(line);
        ys.Add(j.RootElement.GetProperty("birads").GetInt32());
        GreyImage image = transform.EvalImage(ImageReader.ReadGrey8(j.RootElement.GetProperty("path").GetString()!));
        xs.Add(patch == 0 ? PixelFeatures(image) : PatchFeatures(image, patch));
    }
    return (xs.ToArray(), ys.ToArray());
}

// Brightest 3x3 mean, count of pixels above 215, mean tissue value, 99th and 90th percentiles and their gap.
static double[] PixelFeatures(GreyImage img)
{
    int w = img.Width, h = img.Height;
    byte[] p = img.Pixels;
    double best = 0;
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++)
        {
            double m = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) m += p[(y + dy) * w + x + dx];
            best = Math.Max(best, m / 9);
        }
    var tissue = p.Where(v => v > 20).Select(v => (double)v).OrderBy(v => v).ToList();
    int bright = p.Count(v => v > 215);
    double Pct(double q) => tissue.Count > 0 ? tissue[(int)(q * (tissue.Count - 1))] : 0;
    return [best, bright, tissue.Count > 0 ? tissue.Average() : 0, Pct(0.99), Pct(0.90), Pct(0.99) - Pct(0.90), Math.Log(1 + bright)];
}

// What a patch embedding sees at best of a blob: the three brightest patch means, the brightest minus the median tissue patch, and the means.
static double[] PatchFeatures(GreyImage img, int patch)
{
    int w = img.Width, grid = w / patch;
    var means = new List<double>();
    for (int gy = 0; gy < grid; gy++)
        for (int gx = 0; gx < grid; gx++)
        {
            double m = 0;
            for (int y = 0; y < patch; y++)
                for (int x = 0; x < patch; x++) m += img.Pixels[(gy * patch + y) * w + gx * patch + x];
            means.Add(m / (patch * patch));
        }
    means.Sort((a, b) => b.CompareTo(a));
    var tissue = means.Where(v => v > 20).ToList();
    double median = tissue.Count > 0 ? tissue[tissue.Count / 2] : 0;
    double mean = img.Pixels.Where(v => v > 20).Select(v => (double)v).DefaultIfEmpty(0).Average();
    return [means[0], means[1], means[2], means[0] - median, median, mean];
}

var (xTrain, yTrain) = Load(args[0]);
var (xTest, yTest) = Load(args[1]);
const int classes = 7;
int d = xTrain[0].Length;
double[] mu = Enumerable.Range(0, d).Select(k => xTrain.Average(r => r[k])).ToArray();
double[] sd = Enumerable.Range(0, d).Select(k => Math.Sqrt(xTrain.Average(r => (r[k] - mu[k]) * (r[k] - mu[k]))) + 1e-9).ToArray();
double[] Standard(double[] r) => r.Select((v, k) => (v - mu[k]) / sd[k]).ToArray();
double[] counts = new double[classes];
foreach (int c in yTrain) counts[c]++;

// Full-batch gradient descent on the class-weighted cross-entropy (each class weighs the same in total).
var w = new double[classes, d + 1];
double[] Scores(double[] z)
{
    var s = new double[classes];
    for (int c = 0; c < classes; c++)
    {
        s[c] = w[c, d];
        for (int k = 0; k < d; k++) s[c] += w[c, k] * z[k];
    }
    return s;
}
double[][] zTrain = xTrain.Select(Standard).ToArray();
for (int iteration = 0; iteration < 3000; iteration++)
{
    var g = new double[classes, d + 1];
    for (int i = 0; i < zTrain.Length; i++)
    {
        double[] s = Scores(zTrain[i]);
        double max = s.Max(), total = 0;
        for (int c = 0; c < classes; c++) total += s[c] = Math.Exp(s[c] - max);
        double weight = 1.0 / counts[yTrain[i]];
        for (int c = 0; c < classes; c++)
        {
            double e = (s[c] / total - (c == yTrain[i] ? 1 : 0)) * weight;
            for (int k = 0; k < d; k++) g[c, k] += e * zTrain[i][k];
            g[c, d] += e;
        }
    }
    for (int c = 0; c < classes; c++)
        for (int k = 0; k <= d; k++) w[c, k] -= 0.5 * g[c, k] / classes;
}

var hits = new int[classes];
var seen = new int[classes];
for (int i = 0; i < xTest.Length; i++)
{
    double[] s = Scores(Standard(xTest[i]));
    int predicted = Array.IndexOf(s, s.Max());
    seen[yTest[i]]++;
    if (predicted == yTest[i]) hits[yTest[i]]++;
}
var present = Enumerable.Range(0, classes).Where(c => seen[c] > 0).ToList();
foreach (int c in present) Console.WriteLine($"class {"ANBPSMK"[c]}: {hits[c]}/{seen[c]}");
Console.WriteLine($"balanced accuracy {present.Average(c => (double)hits[c] / seen[c]):F3} ({mode} features at {size} px; chance {1.0 / present.Count:F3})");
return 0;
