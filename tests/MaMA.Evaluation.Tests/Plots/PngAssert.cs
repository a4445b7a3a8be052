using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MaMA.Evaluation.Tests.Plots;

/// <summary>Decodes a PNG and checks its size and that something was drawn (many colours, not one flat fill).</summary>
internal static class PngAssert
{
    public static void IsPicture(string path, int width, int height, int minColours = 20)
    {
        Assert.That(File.Exists(path), $"{path} was not written");
        using Image<Rgba32> image = Image.Load<Rgba32>(path);
        Assert.That((image.Width, image.Height), Is.EqualTo((width, height)));
        var colours = new HashSet<uint>();
        int nonWhite = 0;
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                foreach (Rgba32 px in rows.GetRowSpan(y))
                {
                    colours.Add(px.PackedValue);
                    if (px.R < 250 || px.G < 250 || px.B < 250) nonWhite++;
                }
            }
        });
        Assert.That(colours, Has.Count.GreaterThanOrEqualTo(minColours), "distinct colours");
        Assert.That(nonWhite, Is.GreaterThan(width * height / 50), "pixels that are not background white");
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName).Where(f => f!.EndsWith(MaMA.Data.Images.AtomicFile.TempSuffix, StringComparison.Ordinal)), Is.Empty, "no temporary files left");
    }
}
