using System.Globalization;
using MaMA.Data.Embed;
using MaMA.Data.Images;
using MaMA.Data.Labels;
using MaMA.Data.Reports;
using MaMA.Data.Synthetic;
using MaMA.Data.Text;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.Embedding;
using MaMA.Evaluation.Metrics;
using MaMA.Evaluation.ZeroShot;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Evaluation.Tests.ZeroShot;

/// <summary>
/// <c>mama zeroshot</c> end to end on the tiny model and the synthetic dataset (files consistent
/// with each other and with <c>mama metrics</c>, one image's scores computed by hand), the balanced
/// subset, skipped images, usage errors, and the scoring on constructed embeddings (100% accuracy,
/// permuted prompts permute the scores).
/// </summary>
[TestFixture]
public sealed class ZeroShotCommandTests
{
    private static string[] ReadRows(string path) => File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();

    [Test]
    public void DensityRunWritesConsistentFilesAndMatchesAHandComputation()
    {
        string output = EvalTestData.NewDir("zs-density");
        (int code, string stdout, string stderr) = EvalTestData.Run("zeroshot", "--model", EvalTestData.Model, "--data", EvalTestData.Data,
            "--task", "density", "--split", "all", "--balanced", "false", "--out", output, "--device", "cpu", "--batch", "5");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("balanced_accuracy"));

        string[] scores = ReadRows(Path.Combine(output, "scores.csv"));
        string[] labels = ReadRows(Path.Combine(output, "labels.csv"));
        string[] samples = ReadRows(Path.Combine(output, "samples.csv"));
        string[] logits = ReadRows(Path.Combine(output, "logits.csv"));
        Assert.That(scores[0], Is.EqualTo("density 1,density 2,density 3,density 4"));
        Assert.That(labels[0], Is.EqualTo("label"));
        int n = scores.Length - 1;
        EmbedDataset data = EmbedDataset.Load(EvalTestData.Data);
        int labelled = data.Records.Count(r => r.DensityLabel is not null);
        Assert.That(n, Is.EqualTo(labelled), "every labelled image is scored");
        Assert.That(labels, Has.Length.EqualTo(n + 1));
        Assert.That(samples, Has.Length.EqualTo(n + 1));
        Assert.That(logits, Has.Length.EqualTo(n + 1));
        Assert.That(ReadRows(Path.Combine(output, "skipped.csv")), Has.Length.EqualTo(1), "header only");
        foreach (string row in scores.Skip(1))
            Assert.That(row.Split(',').Sum(c => double.Parse(c, CultureInfo.InvariantCulture)), Is.EqualTo(1.0).Within(1e-9));

        // metrics.json is exactly what `mama metrics` makes of scores.csv and labels.csv.
        string again = Path.Combine(output, "again.json");
        (int metricsCode, _, string metricsErr) = EvalTestData.Run("metrics", "--scores", Path.Combine(output, "scores.csv"), "--labels", Path.Combine(output, "labels.csv"), "--out", again);
        Assert.That(metricsCode, Is.EqualTo(0), metricsErr);
        Assert.That(File.ReadAllText(Path.Combine(output, "metrics.json")), Is.EqualTo(File.ReadAllText(again)));
        foreach (string png in new[] { "confusion.png", "roc.png" }) Assert.That(new FileInfo(Path.Combine(output, png)).Length, Is.GreaterThan(1000));

        // By hand for the first image: its own report base, the four density prompts each encoded
        // alone (no batching, no cache), s * dot, softmax.
        string[] first = samples[1].Split(',');
        EmbedRecord record = data.Records.Single(r => r.Path == first[1]);
        Assert.That(int.Parse(labels[1], CultureInfo.InvariantCulture), Is.EqualTo(record.DensityLabel));
        var model = ModelFactory.Load<MaMAModel>(EvalTestData.Model, Device.Cpu);
        model.Eval();
        var tokenizer = MaMATokenizer.Load("gpt2");
        var transform = new MaMA.Data.Images.Transforms.MammoTransform(new() { ImageSize = 42, CropSize = 42 });
        double[] expected = new double[4];
        using (GradMode.NoGrad())
        {
            float[] v = model.EncodeImage(Tensor.FromArray(transform.Eval(ImageReader.ReadGrey8(record.Path)), [1, 3, 42, 42])).Embedding.ToFloatArray();
            float s = MathF.Exp(model.LogitScale.Item());
            for (int c = 0; c < 4; c++)
            {
                EncodedCaption caption = tokenizer.EncodeCaption(ZeroShotPrompts.Density(record.Report.Base, c + 1));
                Tensor ids = Tensor.FromArray(Array.ConvertAll(caption.Ids, i => (long)i), [1, caption.MaxLength]);
                Tensor mask = Tensor.FromArray(Array.ConvertAll(caption.AttentionMask, m => (float)m), [1, caption.MaxLength]);
                float[] t = model.EncodeText(ids, mask).Embedding.ToFloatArray();
                expected[c] = s * Enumerable.Range(0, v.Length).Sum(j => (double)v[j] * t[j]);
            }
        }
        double[] gotLogits = logits[1].Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        Assert.That(gotLogits, Is.EqualTo(expected).Within(1e-4));
        double[] probabilities = (double[])expected.Clone();
        ScoreTable.Softmax(probabilities);
        Assert.That(scores[1].Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray(), Is.EqualTo(probabilities).Within(1e-5));
    }

    /// <summary>EMBED is scored on the class-balanced subset by default, as the published evaluation (--balanced_test).</summary>
    [Test]
    public void ABiradsRunIsBalancedByDefault()
    {
        string output = EvalTestData.NewDir("zs-birads");
        (int code, _, string stderr) = EvalTestData.Run("zeroshot", "--model", EvalTestData.Model, "--data", EvalTestData.Data,
            "--task", "birads", "--split", "all", "--out", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        int[] labels = ReadRows(Path.Combine(output, "labels.csv")).Skip(1).Select(int.Parse).ToArray();
        var counts = labels.GroupBy(l => l).Select(g => g.Count()).Distinct().ToArray();
        Assert.That(counts, Has.Length.EqualTo(1), "every class present has the same count");
        Assert.That(ReadRows(Path.Combine(output, "scores.csv"))[0].Split(','), Has.Length.EqualTo(7));
    }

    [Test]
    public void RsnaRunScoresTwoClassesWithTheSharedPrompts()
    {
        // An RSNA-Mammo folder: train.csv and train_images/{patient}/{image}.png, pixels borrowed from the synthetic set.
        string rsna = EvalTestData.NewDir("rsna");
        string[] sources = EmbedDataset.Load(EvalTestData.Data).Records.Take(6).Select(r => r.Path).ToArray();
        var lines = new List<string> { "patient_id,image_id,laterality,view,cancer" };
        for (int i = 0; i < sources.Length; i++)
        {
            string patient = (100 + i / 2).ToString(CultureInfo.InvariantCulture), image = (5000 + i).ToString(CultureInfo.InvariantCulture);
            Directory.CreateDirectory(Path.Combine(rsna, "train_images", patient));
            File.Copy(sources[i], Path.Combine(rsna, "train_images", patient, image + ".png"));
            lines.Add($"{patient},{image},{(i % 2 == 0 ? "L" : "R")},CC,{(i % 3 == 0 ? 1 : 0)}");
        }
        File.WriteAllLines(Path.Combine(rsna, "train.csv"), lines);
        string output = EvalTestData.NewDir("zs-rsna");
        (int code, string stdout, string stderr) = EvalTestData.Run("zeroshot", "--model", EvalTestData.Model, "--data", rsna, "--task", "rsna", "--split", "all", "--out", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("classified 6 images (2 distinct prompts encoded"));
        Assert.That(ReadRows(Path.Combine(output, "scores.csv"))[0], Is.EqualTo("cancer negative,cancer positive"));
        // Not balanced by default for RSNA: all six images, two with cancer.
        Assert.That(ReadRows(Path.Combine(output, "labels.csv")).Skip(1), Is.EqualTo(new[] { "1", "0", "0", "1", "0", "0" }));
        Assert.That(File.ReadAllText(Path.Combine(output, "metrics.json")), Does.Contain("\"pf1\""));
    }

    [Test]
    public void UsageErrorsExitWithTwo()
    {
        Assert.That(EvalTestData.Run("zeroshot", "--model", EvalTestData.Model, "--data", EvalTestData.Data, "--task", "cancerx", "--out", "x").Code, Is.EqualTo(2));
        Assert.That(EvalTestData.Run("zeroshot", "--model", EvalTestData.Model, "--data", EvalTestData.Data, "--task", "density").Code, Is.EqualTo(2));
        Assert.That(EvalTestData.Run("zeroshot", "--model", "/nonexistent/model", "--data", EvalTestData.Data, "--task", "density", "--out", "x").Code, Is.EqualTo(2));
        Assert.That(EvalTestData.Run("zeroshot", "--model", EvalTestData.Model, "--data", EvalTestData.Data, "--task", "density", "--split", "holdout", "--out", "x").Code, Is.EqualTo(2));
    }

    [Test]
    public void ABalancedSubsetThatLostImagesSaysWhatWasScored()
    {
        // The subset is drawn before the images are read; with unreadable ones it is no longer balanced.
        string data = EvalTestData.NewDir("zs-holes");
        SyntheticEmbed.Write(data, new SynthOptions { Studies = 8, Seed = 5, Width = 64, Height = 80 });
        string[] pngs = Directory.GetFiles(data, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        for (int i = 0; i < pngs.Length; i += 2) File.WriteAllBytes(pngs[i], [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        string output = EvalTestData.NewDir("zs-holes-out");
        (int code, _, string stderr) = EvalTestData.Run("zeroshot", "--model", EvalTestData.Model, "--data", data,
            "--task", "birads", "--split", "all", "--balanced", "--out", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stderr, Does.Contain("note: the class-balanced subset lost").And.Contain("scored per class:"));
    }

    [Test]
    public void UnreadableImagesAreSkippedAndListed()
    {
        var evaluation = EvaluationModel.Load(EvalTestData.Model, Device.Cpu);
        EmbedDataset data = EmbedDataset.Load(EvalTestData.Data);
        string bad = Path.Combine(EvalTestData.NewDir("zs-bad"), "broken.png");
        File.WriteAllBytes(bad, [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var samples = data.Records.Take(3).Select(r => new ZeroShotSample(r.Path, r.Report.Base, r.DensityLabel ?? 0)).ToList();
        samples.Insert(1, new ZeroShotSample(bad, "", 0));
        ZeroShotResult result = new ZeroShotClassifier(evaluation, DownstreamTask.Density).Classify(samples, batchSize: 2);
        Assert.That(result.Samples.Select(s => s.ImagePath), Is.EqualTo(samples.Where(s => s.ImagePath != bad).Select(s => s.ImagePath)));
        Assert.That(result.Failed.Select(f => f.Path), Is.EqualTo(new[] { bad }));
        string output = EvalTestData.NewDir("zs-bad-out");
        ZeroShotOutputs.Write(result, output);
        Assert.That(File.ReadAllText(Path.Combine(output, "skipped.csv")), Does.Contain(bad));

        // Every image unreadable: nothing to score, but skipped.csv, which the command names, is written.
        ZeroShotResult none = new ZeroShotClassifier(evaluation, DownstreamTask.Density).Classify([new ZeroShotSample(bad, "", 0)], batchSize: 2);
        string empty = Path.Combine(EvalTestData.NewDir("zs-none"), "out");
        Assert.That(() => ZeroShotOutputs.Write(none, empty), Throws.InvalidOperationException.With.Message.Contains("skipped.csv"));
        Assert.That(File.ReadAllText(Path.Combine(empty, "skipped.csv")), Does.Contain(bad));
    }

    /// <summary>
    /// Constructed embeddings: image i is the unit vector of its class, prompt c the unit vector of
    /// class c, so every image scores s on its own class and 0 elsewhere: 100% accuracy. Mapping
    /// prompt c to class (c + 1) mod K instead permutes the score columns the same way.
    /// </summary>
    [Test]
    public void ConstructedMatchingEmbeddingsGiveFullAccuracyAndPermutedPromptsPermuteScores()
    {
        var evaluation = EvaluationModel.Load(EvalTestData.Model, Device.Cpu);
        const int k = 7;
        int e = evaluation.Config.EmbedDim;
        string[] bases = ["Procedure reported: A; ", "Procedure reported: B; ", ""];
        int[] labels = [3, 0, 6];
        var images = new float[bases.Length * e];
        for (int i = 0; i < bases.Length; i++) images[i * e + labels[i]] = 1f;

        float[] Embed(IReadOnlyList<string> texts, int shift)
        {
            var t = new float[texts.Count * e];
            for (int r = 0; r < texts.Count; r++)
            {
                int c = bases.Select(b => DownstreamTask.Birads.Prompts(b).ToList().IndexOf(texts[r])).First(x => x >= 0);
                t[r * e + (c + shift) % k] = 1f;
            }
            return t;
        }

        var matched = new ZeroShotClassifier(evaluation, DownstreamTask.Birads) { TextEmbedder = texts => Embed(texts, 0) };
        double[,] logits = matched.Logits(images, bases, scale: 10f);
        var samples = bases.Select((b, i) => new ZeroShotSample($"image{i}.png", b, labels[i])).ToArray();
        var result = new ZeroShotResult(DownstreamTask.Birads, samples, logits, 10f, []);
        MetricsReport report = ClassificationMetrics.Compute(result.Table());
        Assert.That(report.Accuracy, Is.EqualTo(1.0));
        for (int i = 0; i < bases.Length; i++)
            for (int c = 0; c < k; c++) Assert.That(logits[i, c], Is.EqualTo(c == labels[i] ? 10.0 : 0.0));
        Assert.That(matched.CachedPrompts, Is.EqualTo(3 * k), "each distinct base's prompts encoded once");

        var shifted = new ZeroShotClassifier(evaluation, DownstreamTask.Birads) { TextEmbedder = texts => Embed(texts, 1) };
        double[,] moved = shifted.Logits(images, bases, scale: 10f);
        for (int i = 0; i < bases.Length; i++)
            for (int c = 0; c < k; c++) Assert.That(moved[i, c], Is.EqualTo(logits[i, (c + 1) % k]));
    }
}
