#:package ScottPlot
// Draws the soak's memory over time (tools/soak.sh, SOAK_PLOT=PNG): the process's resident memory
// (RSS, sampled from /proc) and the engine allocator's peak ("memory_mb" of metrics.jsonl, placed at
// the time its step was sampled), against wall seconds, with the validation steps marked.
//
//   dotnet run --file tools/soak-plot.cs -- SOAK-RSS.csv METRICS.jsonl OUT.png
using System.Globalization;
using System.Text.Json;
using ScottPlot;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: dotnet run --file tools/soak-plot.cs -- soak-rss.csv metrics.jsonl out.png");
    return 2;
}

// soak-rss.csv: seconds,rss_mb,last_step (rss 0: the process was not started or had ended).
var rows = File.ReadLines(args[0]).Skip(1).Select(l => l.Split(','))
    .Select(f => (Seconds: double.Parse(f[0], CultureInfo.InvariantCulture), Rss: double.Parse(f[1], CultureInfo.InvariantCulture),
                  Step: double.Parse(f[2].Length == 0 ? "0" : f[2], CultureInfo.InvariantCulture)))
    .Where(r => r.Rss > 0).ToArray();

var peakByStep = new SortedDictionary<double, double>();
var evalSteps = new List<double>();
foreach (string line in File.ReadLines(args[1]))
{
    using JsonDocument doc = JsonDocument.Parse(line);
    double step = doc.RootElement.GetProperty("step").GetDouble();
    if (doc.RootElement.GetProperty("kind").GetString() == "eval") evalSteps.Add(step);
    else if (doc.RootElement.TryGetProperty("memory_mb", out JsonElement m) && m.ValueKind == JsonValueKind.Number) peakByStep[step] = m.GetDouble();
}

// The allocator peak at each RSS sample: the newest logged peak at or before the sample's step.
double[] peak = rows.Select(r => peakByStep.Where(kv => kv.Key <= r.Step).Select(kv => kv.Value).DefaultIfEmpty(double.NaN).Last()).ToArray();

var plot = new Plot();
var rss = plot.Add.Scatter(rows.Select(r => r.Seconds).ToArray(), rows.Select(r => r.Rss).ToArray());
rss.LegendText = "RSS (MB)";
rss.MarkerSize = 3;
var alloc = plot.Add.Scatter(rows.Select(r => r.Seconds).ToArray(), peak);
alloc.LegendText = "allocator peak (MB)";
alloc.MarkerSize = 0;
foreach (double e in evalSteps)
{
    // Mark each validation at the first sample that had reached its step.
    var at = rows.FirstOrDefault(r => r.Step >= e);
    if (at.Rss == 0) continue;
    var v = plot.Add.VerticalLine(at.Seconds);
    v.LinePattern = LinePattern.Dotted;
    v.Text = $"eval {e:0}";
}
plot.Axes.SetLimitsY(0, Math.Max(rows.Max(r => r.Rss), peak.Where(double.IsFinite).DefaultIfEmpty(0).Max()) * 1.15);
plot.Title($"soak: {rows[^1].Step:0} tiny pre-training steps");
plot.XLabel("wall seconds");
plot.YLabel("MB");
plot.ShowLegend(Alignment.LowerRight);
plot.SavePng(args[2], 900, 450);
Console.WriteLine($"wrote {args[2]} ({rows.Length} samples)");
return 0;
