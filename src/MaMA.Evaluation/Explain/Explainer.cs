using System.Globalization;
using System.Text.Json;
using MaMA.Data.Images;
using MaMA.Data.Labels;
using MaMA.Data.Tables;
using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.Embedding;
using MaMA.Evaluation.Plots;
using MaMA.Evaluation.ZeroShot;
using MaMA.Model.MaMA;

namespace MaMA.Evaluation.Explain;

/// <summary>One explained sentence: its text, its heat-map file and the range of its similarity map.</summary>
public sealed record ExplainedSentence(int Index, string Text, string File, float Min, float Max, float Mean);

/// <summary>What <see cref="Explainer.Run"/> wrote and computed.</summary>
/// <param name="Logits">Zero-shot class scores of the image, s * cos [K].</param>
/// <param name="Probabilities">Their softmax [K].</param>
public sealed record ExplainResult(string Directory, IReadOnlyList<ExplainedSentence> Sentences, DownstreamTask Task, IReadOnlyList<string> ClassNames,
                                   double[] Logits, double[] Probabilities, int Prediction, string IndexJson, string IndexCsv);

/// <summary>
/// Where the local alignment heads look: for each sentence q_s [E] (normalised local sentence
/// embedding at its SEP token) and the image's normalised local patch embeddings p [P, E], the map
/// sim[p] = p[p] . q_s over the grid x grid patches (row-major), the term the symmetric local
/// alignment loss maximises. Each map is upsampled over the evaluation crop of the mammogram (the
/// S x S image the model sees) as a heat-map PNG; all maps of one image share one colour range so
/// they can be compared. With a report, its SEP sentences are explained (encoded together, as in
/// training); without one, each zero-shot prompt of the task is encoded on its own and explained by
/// the mean of its sentences' maps. The image's zero-shot class scores are computed too (instance
/// prompts on the report's base, <see cref="ReportSentences.Base"/>; empty without a report).
/// </summary>
public static class Explainer
{
    public const string IndexJsonFile = "index.json";
    public const string IndexCsvFile = "index.csv";

    public static ExplainResult Run(EvaluationModel model, string imagePath, string? report, DownstreamTask task, string outDir, int width = 800, int height = 800)
    {
        ArgumentNullException.ThrowIfNull(model);
        int e = model.Config.EmbedDim, grid = model.Grid, side = model.ImageSize;
        (GreyImage crop, float[] pixels) = EvalImageReader.ReadOne(imagePath, model.Transform);

        float[] global, patches;                                    // [E], [P, E]
        using (Tensor x = Tensor.FromArray(pixels, [1, 3, side, side], model.Device))
        using (GradMode.NoGrad())
        {
            ImageEncoding image = model.Model.EncodeImage(x);
            global = image.Embedding.ToFloatArray();
            patches = model.Model.ImageEncoder.PatchEmbeddings(image).ToFloatArray();
        }

        var texts = new List<string>();
        var maps = new List<float[,]>();
        if (report is not null)
        {
            IReadOnlyList<string> sentences = ReportSentences.Split(report);
            float[] q = SentenceEmbeddings(model, report, out int count);   // [S, E]
            if (count == 0)
                throw new ArgumentException(sentences.Count == 0
                    ? "the report has no sentence: the local heads see one per \".\" or \";\", and it has none."
                    : $"the report's {sentences.Count} sentence(s) all end after the {model.MaxTextLength}-token limit of the captions, " +
                      "so the text model sees none of them: shorten the report (its first \".\" or \";\" must come within the limit).");
            for (int s = 0; s < count; s++)
            {
                texts.Add(s < sentences.Count ? sentences[s] : $"sentence {s + 1}");
                maps.Add(Map(patches, q.AsSpan(s * e, e), grid, e));
            }
        }
        else
        {
            IReadOnlyList<string> names = task.ClassNames();
            IReadOnlyList<string> prompts = task.Prompts("");
            for (int c = 0; c < prompts.Count; c++)
            {
                float[] q = SentenceEmbeddings(model, prompts[c], out int count);
                var mean = new float[grid, grid];
                for (int s = 0; s < count; s++)
                {
                    float[,] m = Map(patches, q.AsSpan(s * e, e), grid, e);
                    for (int y = 0; y < grid; y++)
                        for (int x = 0; x < grid; x++) mean[y, x] += m[y, x] / count;
                }
                texts.Add($"{names[c]}: {prompts[c].Trim()}");
                maps.Add(mean);
            }
        }

        string dir = Path.GetFullPath(outDir);
        Directory.CreateDirectory(dir);
        // Heat-maps of an earlier run into the same folder would sit beside index.csv without being in it.
        foreach (string stale in Directory.EnumerateFiles(dir, "sentence_*.png")) File.Delete(stale);
        float lo = maps.Min(m => m.Cast<float>().Min()), hi = maps.Max(m => m.Cast<float>().Max());
        (double, double) range = hi > lo ? (lo, hi) : (lo - 1e-3, hi + 1e-3);
        var background = new float[side, side];
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) background[y, x] = crop[x, y] / 255f;
        var explained = new List<ExplainedSentence>();
        for (int i = 0; i < maps.Count; i++)
        {
            string file = $"sentence_{i:00}.png";
            HeatmapOverlay.Save(background, maps[i], Path.Combine(dir, file), Title(texts[i]), range: range, width: width, height: height);
            float[] values = maps[i].Cast<float>().ToArray();
            explained.Add(new ExplainedSentence(i, texts[i], file, values.Min(), values.Max(), values.Average()));
        }

        var classifier = new ZeroShotClassifier(model, task);
        double[,] logits2 = classifier.Logits(global, [report is null ? "" : ReportSentences.Base(report)]);
        double[] logits = Enumerable.Range(0, logits2.GetLength(1)).Select(c => logits2[0, c]).ToArray();
        double[] probabilities = (double[])logits.Clone();
        Metrics.ScoreTable.Softmax(probabilities);
        int prediction = Array.IndexOf(probabilities, probabilities.Max());

        string indexJson = Path.Combine(dir, IndexJsonFile), indexCsv = Path.Combine(dir, IndexCsvFile);
        var index = new Dictionary<string, object?>
        {
            ["image"] = Path.GetFullPath(imagePath),
            ["model"] = model.Directory,
            ["grid"] = grid,
            ["image_size"] = side,
            ["colour_range"] = new[] { range.Item1, range.Item2 },
            ["sentences"] = explained.Select(s => new Dictionary<string, object> { ["index"] = s.Index, ["text"] = s.Text, ["file"] = s.File, ["min"] = s.Min, ["max"] = s.Max, ["mean"] = s.Mean }),
            ["zero_shot"] = new Dictionary<string, object>
            {
                ["task"] = task.Name(),
                ["classes"] = task.ClassNames(),
                ["logits"] = logits,
                ["probabilities"] = probabilities,
                ["prediction"] = prediction,
                ["logit_scale"] = classifier.Model.LogitScaleExp(),
            },
        };
        global::MaMA.Data.Tables.AtomicFile.Write(indexJson, w => w.Write(JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n"));
        CsvWriter.WriteFile(indexCsv, ["file", "sentence", "min", "max", "mean"], explained.Select(s => (IReadOnlyList<string>)
            [s.File, s.Text, s.Min.ToString("R", CultureInfo.InvariantCulture), s.Max.ToString("R", CultureInfo.InvariantCulture), s.Mean.ToString("R", CultureInfo.InvariantCulture)]));
        return new ExplainResult(dir, explained, task, task.ClassNames(), logits, probabilities, prediction, indexJson, indexCsv);
    }

    /// <summary>Normalised local sentence embeddings [S, E] of one caption (S = its SEP tokens that survive truncation).</summary>
    public static float[] SentenceEmbeddings(EvaluationModel model, string caption, out int count)
    {
        ArgumentNullException.ThrowIfNull(model);
        (Tensor ids, Tensor mask, _) = model.Tokenize([caption]);
        using (ids)
        using (mask)
        using (GradMode.NoGrad())
        {
            TextEncoding text = model.Model.EncodeText(ids, mask);
            count = text.Sentences.Shape[0];
            return count == 0 ? [] : Ops.L2Normalize(model.Model.TextEncoder.LocalEmbed.ForwardRows(text.Sentences)).ToFloatArray();
        }
    }

    /// <summary>sim[y, x] = patches[y * grid + x] . q for patches [grid * grid, E].</summary>
    public static float[,] Map(float[] patches, ReadOnlySpan<float> q, int grid, int e)
    {
        var map = new float[grid, grid];
        for (int p = 0; p < grid * grid; p++)
        {
            ReadOnlySpan<float> v = patches.AsSpan(p * e, e);
            float dot = 0f;
            for (int j = 0; j < e; j++) dot += v[j] * q[j];
            map[p / grid, p % grid] = dot;
        }
        return map;
    }

    private static string Title(string text) => text.Length <= 70 ? text : text[..67] + "...";
}
