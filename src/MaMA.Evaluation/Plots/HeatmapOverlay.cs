using ScottPlot;

namespace MaMA.Evaluation.Plots;

/// <summary>
/// An explanation picture: a grey mammogram [H, W] in [0, 1] with a similarity map [h, w] (e.g. the
/// patch-to-sentence similarities of local alignment, h x w = the ViT patch grid) upsampled
/// bilinearly to [H, W] and drawn over it in a colormap (Turbo, semi-transparent), with a colorbar.
/// </summary>
public static class HeatmapOverlay
{
    /// <summary>
    /// Writes the overlay to <paramref name="outPng"/>. <paramref name="opacity"/> in [0, 1] is the
    /// weight of the heat-map over the image. The colour range is the similarity map's min..max
    /// unless <paramref name="range"/> fixes it (e.g. (-1, 1) for cosine similarities).
    /// </summary>
    public static void Save(float[,] image, float[,] similarity, string outPng, string title = "", double opacity = 0.45,
                            (double Min, double Max)? range = null, int width = 800, int height = 800)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(similarity);
        if (!(opacity >= 0 && opacity <= 1)) throw new ArgumentOutOfRangeException(nameof(opacity), opacity, "opacity is in [0, 1].");
        int h = image.GetLength(0), w = image.GetLength(1);
        if (h == 0 || w == 0 || similarity.GetLength(0) == 0 || similarity.GetLength(1) == 0)
            throw new ArgumentException($"empty input: image {h}x{w}, similarity {similarity.GetLength(0)}x{similarity.GetLength(1)}.");

        var grey = new double[h, w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                grey[y, x] = float.IsFinite(image[y, x]) ? Math.Clamp(image[y, x], 0f, 1f) : 0;
        double[,] heat = Upsample(similarity, h, w);

        using var plot = new Plot();
        var background = plot.Add.Heatmap(grey);
        background.Colormap = new ScottPlot.Colormaps.Grayscale();
        background.ManualRange = new ScottPlot.Range(0, 1);
        background.Rectangle = new CoordinateRect(0, w, 0, h);
        var overlay = plot.Add.Heatmap(heat);
        overlay.Colormap = new ScottPlot.Colormaps.Turbo();
        overlay.Opacity = opacity;
        overlay.Rectangle = new CoordinateRect(0, w, 0, h);
        if (range is { } r) overlay.ManualRange = new ScottPlot.Range(r.Min, r.Max);
        var colorBar = plot.Add.ColorBar(overlay);
        colorBar.Label = "similarity";
        plot.Axes.SetLimits(0, w, 0, h);
        plot.Axes.SquareUnits();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.EmptyTickGenerator();
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.EmptyTickGenerator();
        plot.HideGrid();
        if (title.Length > 0) plot.Title(title);
        PlotFile.SavePng(plot, outPng, width, height);
    }

    /// <summary>
    /// Bilinear resize of <paramref name="map"/> [h, w] to [H, W] with half-pixel centres, as
    /// torch's <c>interpolate(mode="bilinear", align_corners=False)</c>: output pixel (Y, X) samples
    /// source coordinates y = (Y + 0.5) h / H - 0.5, x = (X + 0.5) w / W - 0.5, clamped to the edges,
    /// and mixes the four neighbours by distance. Non-finite values count as 0.
    /// </summary>
    public static double[,] Upsample(float[,] map, int outHeight, int outWidth)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (outHeight < 1 || outWidth < 1) throw new ArgumentOutOfRangeException(nameof(outHeight), $"{outHeight}x{outWidth}: the size must be positive.");
        int h = map.GetLength(0), w = map.GetLength(1);
        var result = new double[outHeight, outWidth];
        for (int oy = 0; oy < outHeight; oy++)
        {
            double sy = Math.Clamp((oy + 0.5) * h / outHeight - 0.5, 0, h - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, h - 1);
            double fy = sy - y0;
            for (int ox = 0; ox < outWidth; ox++)
            {
                double sx = Math.Clamp((ox + 0.5) * w / outWidth - 0.5, 0, w - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, w - 1);
                double fx = sx - x0;
                double top = Value(map, y0, x0) * (1 - fx) + Value(map, y0, x1) * fx;
                double bottom = Value(map, y1, x0) * (1 - fx) + Value(map, y1, x1) * fx;
                result[oy, ox] = top * (1 - fy) + bottom * fy;
            }
        }
        return result;
    }

    private static double Value(float[,] map, int y, int x) => float.IsFinite(map[y, x]) ? map[y, x] : 0;
}
