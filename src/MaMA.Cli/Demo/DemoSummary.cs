using System.Globalization;

namespace MaMA.Cli.Demo;

/// <summary>The few lines <c>mama demo</c> prints at the end: one row per evaluation against chance, the run's cost, the files.</summary>
public static class DemoSummary
{
    public static IEnumerable<string> Lines(DemoResult r)
    {
        int images = r.Data.Images.Count(i => !i.Skipped && i.ImageType == "2D");
        yield return $"MaMA demo: {r.Data.Studies} synthetic studies ({images} usable images), {r.Pretraining.Steps} pre-training steps on {r.Device.Name}";
        yield return $"{"evaluation (balanced test split)",-34} {"images",6} {"accuracy",9} {"bal. acc",9} {"AUC",7} {"chance",7}";
        foreach (DemoEvaluation e in r.Evaluations)
            yield return $"{e.Title,-34} {e.Report.Count,6} {F(e.Report.Accuracy),9} {F(e.Report.BalancedAccuracy),9} {F(e.Report.Auc),7} {F(e.Chance),7}";
        string phases = string.Join(", ", r.Times.Phases.Select(p => $"{p.Name} {p.WallSeconds:F0} s"));
        yield return $"time: {r.Times.TotalWallSeconds:F0} s wall, {r.Times.TotalCpuSeconds:F0} s CPU ({phases})";
        yield return $"report: {Path.Combine(r.Directory, DemoReport.FileName)}";
        yield return $"pictures: {string.Join(", ", DemoReport.Files(r).Where(f => f.EndsWith(".png", StringComparison.Ordinal)).Select(f => Path.GetRelativePath(r.Directory, f)))}";
    }

    private static string F(double v) => double.IsFinite(v) ? v.ToString("F3", CultureInfo.InvariantCulture) : "n/a";
}
