using System.Globalization;
using System.Text.Json;
using ScottPlot;

namespace MaMA.Evaluation.Plots;

/// <summary>
/// Training curves from a run folder's <c>metrics.jsonl</c>: one line per loss term against the
/// step (left axis, optionally log10), the learning rate on a right axis.
/// <para>
/// File format: one JSON object per line, e.g.
/// <c>{"step":20,"loss":1.01,"loss_clip":0.7,"lr":0.003,"grad_norm":0.5}</c>. The x value is
/// <c>"step"</c> (the 1-based line number when absent); every numeric key whose name contains
/// "loss" (case-insensitive: <c>loss</c>, <c>loss_sla</c>, <c>val_loss</c>, ...) is a loss series;
/// <c>"lr"</c> is the learning rate. A key missing from a line just has no point there; blank lines
/// are skipped; a line that is not a JSON object is an error naming the file and line.
/// </para>
/// </summary>
public static class LossCurvePlot
{
    /// <summary>One named curve: y values at the given steps (same length).</summary>
    public sealed record Series(string Name, double[] Steps, double[] Values);

    /// <summary>Reads <paramref name="metricsJsonl"/> and writes the plot to <paramref name="outPng"/>.</summary>
    public static void FromMetricsJsonl(string metricsJsonl, string outPng) => FromMetricsJsonl(metricsJsonl, outPng, logY: false);

    /// <summary>As <see cref="FromMetricsJsonl(string, string)"/>, with the loss axis log10 when <paramref name="logY"/>.</summary>
    public static void FromMetricsJsonl(string metricsJsonl, string outPng, bool logY, int width = 1000, int height = 600)
    {
        (List<Series> losses, Series? lr) = Read(metricsJsonl);
        Save(losses, lr, outPng, logY, Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(metricsJsonl))) ?? "training", width, height);
    }

    /// <summary>Reads the loss series (in first-seen key order) and the learning rate (null when no line has "lr").</summary>
    public static (List<Series> Losses, Series? LearningRate) Read(string metricsJsonl)
    {
        if (!File.Exists(metricsJsonl)) throw new FileNotFoundException($"{metricsJsonl}: no such file (expected a run folder's metrics.jsonl).", metricsJsonl);
        var points = new Dictionary<string, (List<double> X, List<double> Y)>(StringComparer.Ordinal);
        var order = new List<string>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(metricsJsonl))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{metricsJsonl}:{lineNumber}: not a JSON object ({e.Message}).");
            }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{metricsJsonl}:{lineNumber}: expected a JSON object, found {doc.RootElement.ValueKind}.");
                double step = doc.RootElement.TryGetProperty("step", out JsonElement s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : lineNumber;
                foreach (JsonProperty p in doc.RootElement.EnumerateObject())
                {
                    bool wanted = p.Name == "lr" || p.Name.Contains("loss", StringComparison.OrdinalIgnoreCase);
                    if (!wanted || p.Value.ValueKind != JsonValueKind.Number) continue;
                    if (!points.TryGetValue(p.Name, out var series))
                    {
                        series = (new List<double>(), new List<double>());
                        points[p.Name] = series;
                        order.Add(p.Name);
                    }
                    series.X.Add(step);
                    series.Y.Add(p.Value.GetDouble());
                }
            }
        }
        var losses = order.Where(n => n != "lr").Select(n => new Series(n, points[n].X.ToArray(), points[n].Y.ToArray())).ToList();
        if (losses.Count == 0) throw new InvalidDataException($"{metricsJsonl}: no numeric key containing \"loss\" on any line; nothing to plot.");
        Series? lr = points.TryGetValue("lr", out var l) ? new Series("lr", l.X.ToArray(), l.Y.ToArray()) : null;
        return (losses, lr);
    }

    /// <summary>
    /// Draws <paramref name="losses"/> (left axis) and <paramref name="learningRate"/> (right axis,
    /// dashed, optional). With <paramref name="logY"/> the loss axis shows log10 of the values, labelled
    /// as the values themselves; points &lt;= 0 (no logarithm) are left out.
    /// </summary>
    public static void Save(IReadOnlyList<Series> losses, Series? learningRate, string outPng, bool logY = false,
                            string title = "training", int width = 1000, int height = 600)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (losses.Count == 0) throw new ArgumentException("no loss series to plot.");
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < losses.Count; i++)
        {
            Series s = losses[i];
            if (s.Steps.Length != s.Values.Length) throw new ArgumentException($"series '{s.Name}': {s.Steps.Length} steps but {s.Values.Length} values.");
            var (xs, ys) = logY ? Log10Points(s) : (s.Steps, s.Values);
            var line = plot.Add.ScatterLine(xs, ys, palette.GetColor(i));
            line.LineWidth = 2;
            // A line needs two points: a series of one (a run's first logged step) is drawn as a marker.
            if (xs.Length == 1) line.MarkerSize = 9;
            line.LegendText = s.Name;
        }
        if (logY)
        {
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => Math.Pow(10, y).ToString("G3", CultureInfo.InvariantCulture),
            };
            plot.Axes.Left.TickGenerator = ticks;
            plot.YLabel("loss (log scale)");
        }
        else
        {
            plot.YLabel("loss");
        }

        if (learningRate is { Steps.Length: > 0 })
        {
            var lr = plot.Add.ScatterLine(learningRate.Steps, learningRate.Values, Colors.Gray);
            lr.LinePattern = LinePattern.Dashed;
            lr.LineWidth = 1.5f;
            if (learningRate.Steps.Length == 1) lr.MarkerSize = 7;
            lr.LegendText = "learning rate (right axis)";
            lr.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "learning rate";
        }
        plot.XLabel("step");
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperRight);
        PlotFile.SavePng(plot, outPng, width, height);
    }

    private static (double[] X, double[] Y) Log10Points(Series s)
    {
        var xs = new List<double>();
        var ys = new List<double>();
        for (int i = 0; i < s.Values.Length; i++)
        {
            if (!(s.Values[i] > 0)) continue;
            xs.Add(s.Steps[i]);
            ys.Add(Math.Log10(s.Values[i]));
        }
        return (xs.ToArray(), ys.ToArray());
    }
}
