using MaMA.Data.Images;
using ScottPlot;

namespace MaMA.Evaluation.Plots;

/// <summary>
/// Renders a ScottPlot <see cref="Plot"/> to a PNG file atomically: the image is rendered in memory,
/// written to a temporary file beside the target, then renamed over it, so a reader never sees half
/// a picture and a failed render leaves any earlier file untouched.
/// </summary>
internal static class PlotFile
{
    public static void SavePng(Plot plot, string path, int width, int height)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (width < 64 || height < 64) throw new ArgumentOutOfRangeException(nameof(width), $"{width}x{height}: a plot needs at least 64x64 pixels.");
        byte[] png = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, png);
    }

    /// <summary>Class names for K classes: the given ones, or "0", "1", ... when none are given.</summary>
    public static string[] ClassNames(IReadOnlyList<string>? names, int classCount)
    {
        if (names is null) return Enumerable.Range(0, classCount).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (names.Count != classCount) throw new ArgumentException($"{names.Count} class names for {classCount} classes.");
        return names.ToArray();
    }
}
