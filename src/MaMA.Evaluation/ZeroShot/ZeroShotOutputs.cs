using System.Globalization;
using MaMA.Data.Labels;
using MaMA.Data.Tables;
using MaMA.Evaluation.Metrics;
using MaMA.Evaluation.Plots;

namespace MaMA.Evaluation.ZeroShot;

/// <summary>The files a zero-shot run writes into its output folder, and the metrics computed from them.</summary>
/// <param name="Report">The metrics of the probabilities against the labels (as <c>mama metrics</c> computes them).</param>
public sealed record ZeroShotOutputs(string Directory, MetricsReport Report, IReadOnlyList<string> Files)
{
    public const string ScoresCsv = "scores.csv";
    public const string LabelsCsv = "labels.csv";
    public const string LogitsCsv = "logits.csv";
    public const string SamplesCsv = "samples.csv";
    public const string SkippedCsv = "skipped.csv";
    public const string MetricsJson = "metrics.json";
    public const string ConfusionPng = "confusion.png";
    public const string RocPng = "roc.png";

    /// <summary>
    /// Writes, each atomically, into <paramref name="directory"/>:
    /// <list type="bullet">
    /// <item><c>scores.csv</c>: header of class names, then one row per image of the softmax
    /// probabilities (the input of <c>mama metrics --scores</c>);</item>
    /// <item><c>labels.csv</c>: header <c>label</c>, then one true class per row;</item>
    /// <item><c>logits.csv</c>: the scores before the softmax, s * cos (same layout);</item>
    /// <item><c>samples.csv</c>: <c>row,path,label,prediction</c> to find each row's image;</item>
    /// <item><c>skipped.csv</c>: <c>path,reason</c> of the images that could not be read;</item>
    /// <item><c>metrics.json</c>, <c>confusion.png</c>, <c>roc.png</c>: as <c>mama metrics</c> writes them.</item>
    /// </list>
    /// </summary>
    public static ZeroShotOutputs Write(ZeroShotResult result, string directory)
    {
        ArgumentNullException.ThrowIfNull(result);
        string dir = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(dir);
        string InDir(string name) => Path.Combine(dir, name);
        // First: with nothing to score, the list of unreadable images (which the command already named) is still written.
        CsvWriter.WriteFile(InDir(SkippedCsv), ["path", "reason"], result.Failed.Select(f => (IReadOnlyList<string>)[f.Path, f.Reason]));
        if (result.Samples.Count == 0)
            throw new InvalidOperationException($"no image could be classified ({result.Failed.Count} unreadable, listed in {InDir(SkippedCsv)}); nothing to score.");
        IReadOnlyList<string> names = result.Task.ClassNames();
        ScoreTable table = result.Table();
        int n = table.Count, k = table.ClassCount;
        int[] predictions = table.Predictions();

        CsvWriter.WriteFile(InDir(ScoresCsv), names, Rows(n, i => Enumerable.Range(0, k).Select(c => Number(table.Probabilities[i, c]))));
        CsvWriter.WriteFile(InDir(LabelsCsv), ["label"], Rows(n, i => [table.Labels[i].ToString(CultureInfo.InvariantCulture)]));
        CsvWriter.WriteFile(InDir(LogitsCsv), names, Rows(n, i => Enumerable.Range(0, k).Select(c => Number(result.Logits[i, c]))));
        CsvWriter.WriteFile(InDir(SamplesCsv), ["row", "path", "label", "prediction"], Rows(n, i =>
            [i.ToString(CultureInfo.InvariantCulture), result.Samples[i].ImagePath, table.Labels[i].ToString(CultureInfo.InvariantCulture), predictions[i].ToString(CultureInfo.InvariantCulture)]));

        MetricsReport report = ClassificationMetrics.Compute(table);
        report.WriteJson(InDir(MetricsJson));
        string title = $"zero-shot {result.Task.Name()}";
        ConfusionMatrixPlot.Save(report.ConfusionMatrix, InDir(ConfusionPng), names, $"{title}: confusion matrix ({n} images)");
        RocPlot.Save(table, InDir(RocPng), names, k == 2 ? $"{title}: ROC" : $"{title}: ROC, one vs rest");
        string[] files = [ScoresCsv, LabelsCsv, LogitsCsv, SamplesCsv, SkippedCsv, MetricsJson, ConfusionPng, RocPng];
        return new ZeroShotOutputs(dir, report, files.Select(InDir).ToArray());
    }

    private static IEnumerable<IReadOnlyList<string>> Rows(int n, Func<int, IEnumerable<string>> row) =>
        Enumerable.Range(0, n).Select(i => (IReadOnlyList<string>)row(i).ToArray());

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
