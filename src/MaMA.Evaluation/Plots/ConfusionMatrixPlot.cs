using System.Globalization;
using MaMA.Evaluation.Metrics;
using ScottPlot;

namespace MaMA.Evaluation.Plots;

/// <summary>
/// A confusion matrix as a heat-map: cell (true t, predicted p) is coloured by the row-normalised
/// fraction C[t, p] / sum_j C[t, j] (so classes of any size are comparable; an empty row stays 0)
/// and labelled with its count. True classes run down the left (first class on top), predictions
/// along the bottom, as sklearn's ConfusionMatrixDisplay draws it.
/// </summary>
public static class ConfusionMatrixPlot
{
    public static void Save(ConfusionMatrix matrix, string outPng, IReadOnlyList<string>? classNames = null,
                            string title = "Confusion matrix", int width = 800, int height = 700)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int k = matrix.ClassCount;
        string[] names = PlotFile.ClassNames(classNames, k);

        // fraction [K, K], row t = true class t (ScottPlot draws row 0 at the top).
        var fraction = new double[k, k];
        for (int t = 0; t < k; t++)
        {
            long support = matrix.Support(t);
            for (int p = 0; p < k; p++) fraction[t, p] = support == 0 ? 0 : (double)matrix[t, p] / support;
        }

        using var plot = new Plot();
        var heatmap = plot.Add.Heatmap(fraction);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        heatmap.Rectangle = new CoordinateRect(-0.5, k - 0.5, -0.5, k - 0.5);
        var colorBar = plot.Add.ColorBar(heatmap);
        colorBar.Label = "fraction of the true class";

        float fontSize = k <= 4 ? 22 : k <= 8 ? 16 : 11;
        for (int t = 0; t < k; t++)
        {
            for (int p = 0; p < k; p++)
            {
                var text = plot.Add.Text(matrix[t, p].ToString(CultureInfo.InvariantCulture), p, k - 1 - t);
                text.Alignment = Alignment.MiddleCenter;
                text.LabelFontSize = fontSize;
                // Viridis is dark at 0 and light at 1: white text on the dark half, black on the light.
                text.LabelFontColor = fraction[t, p] < 0.6 ? Colors.White : Colors.Black;
            }
        }

        double[] positions = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, names);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions.Select(y => k - 1 - y).ToArray(), names);
        plot.Axes.SetLimits(-0.5, k - 0.5, -0.5, k - 0.5);
        plot.XLabel("predicted class");
        plot.YLabel("true class");
        plot.Title(title);
        PlotFile.SavePng(plot, outPng, width, height);
    }
}
