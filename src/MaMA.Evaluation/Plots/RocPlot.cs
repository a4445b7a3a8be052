using System.Globalization;
using MaMA.Evaluation.Metrics;
using ScottPlot;

namespace MaMA.Evaluation.Plots;

/// <summary>
/// ROC curves: false positive rate along x, true positive rate up y, the chance diagonal dashed.
/// Binary scores draw one curve (class 1 positive); K &gt; 2 classes draw one one-vs-rest curve per
/// class. Each legend entry carries its AUC; a class without samples has no curve and its legend
/// entry says "no samples".
/// </summary>
public static class RocPlot
{
    /// <summary>A curve to draw, its legend name and its AUC (NaN: no curve, "no samples").</summary>
    public sealed record Curve(string Name, RocCurve? Roc, double Auc);

    /// <summary>The curves of a score table (sklearn's ROC points, intermediate points kept so the lines show every step).</summary>
    public static void Save(ScoreTable table, string outPng, IReadOnlyList<string>? classNames = null,
                            string title = "ROC", int width = 800, int height = 700)
    {
        ArgumentNullException.ThrowIfNull(table);
        string[] names = PlotFile.ClassNames(classNames, table.ClassCount);
        var curves = new List<Curve>();
        IEnumerable<int> classes = table.ClassCount == 2 ? [1] : Enumerable.Range(0, table.ClassCount);
        foreach (int c in classes)
        {
            RocCurve roc = RocCurve.OneVsRest(table, c, dropIntermediate: false);
            double auc = roc.Area();
            curves.Add(new Curve(table.ClassCount == 2 ? $"{names[1]} vs {names[0]}" : $"{names[c]} vs rest", double.IsNaN(auc) ? null : roc, auc));
        }
        Save(curves, outPng, title, width, height);
    }

    public static void Save(IReadOnlyList<Curve> curves, string outPng, string title = "ROC", int width = 800, int height = 700)
    {
        ArgumentNullException.ThrowIfNull(curves);
        using var plot = new Plot();
        var chance = plot.Add.Line(0, 0, 1, 1);
        chance.LinePattern = LinePattern.Dashed;
        chance.Color = Colors.Gray;
        chance.LegendText = "chance (AUC 0.5)";
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < curves.Count; i++)
        {
            Curve curve = curves[i];
            string auc = double.IsNaN(curve.Auc) ? "no samples" : "AUC " + curve.Auc.ToString("F4", CultureInfo.InvariantCulture);
            if (curve.Roc is null)
            {
                // A legend-only entry: a zero-length invisible line still lists the class and why it has no curve.
                var missing = plot.Add.ScatterLine(new double[] { 0 }, new double[] { 0 }, palette.GetColor(i));
                missing.LineWidth = 0;
                missing.MarkerSize = 0;
                missing.LegendText = $"{curve.Name} ({auc})";
                continue;
            }
            var line = plot.Add.ScatterLine(curve.Roc.Fpr, curve.Roc.Tpr, palette.GetColor(i));
            line.LineWidth = 2;
            line.LegendText = $"{curve.Name} ({auc})";
        }
        // A little room around [0, 1] so curves along the frame (a perfect class) stay visible.
        plot.Axes.SetLimits(-0.02, 1.02, -0.02, 1.02);
        plot.XLabel("false positive rate (1 - specificity)");
        plot.YLabel("true positive rate (sensitivity)");
        plot.Title(title);
        plot.ShowLegend(Alignment.LowerRight);
        PlotFile.SavePng(plot, outPng, width, height);
    }
}
