using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace MaMA.Data.Images;

/// <summary>
/// Grey PNG (8 or 16 bit) and JPEG writing through ImageSharp. The path overloads write atomically
/// (<see cref="AtomicFile"/>): a killed process never leaves a half-written image.
/// </summary>
public static class ImageWriter
{
    /// <summary>Writes an 8-bit grey PNG.</summary>
    public static void SavePng(GreyImage image, string path) => AtomicFile.Write(path, s => WritePng(image, s));

    /// <summary>Writes an 8-bit grey PNG to a stream.</summary>
    public static void WritePng(GreyImage image, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(image);
        using Image<L8> img = Image.LoadPixelData<L8>(image.Pixels, image.Width, image.Height);
        img.Save(stream, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
    }

    /// <summary>Encodes an 8-bit grey PNG in memory.</summary>
    public static byte[] EncodePng(GreyImage image)
    {
        using var ms = new MemoryStream();
        WritePng(image, ms);
        return ms.ToArray();
    }

    /// <summary>Writes a 16-bit grey PNG of row-major <paramref name="values"/> (width * height of them).</summary>
    public static void SavePng16(int width, int height, ReadOnlySpan<ushort> values, string path)
    {
        byte[] png = EncodePng16(width, height, values);
        AtomicFile.WriteAllBytes(path, png);
    }

    /// <summary>Encodes a 16-bit grey PNG in memory.</summary>
    public static byte[] EncodePng16(int width, int height, ReadOnlySpan<ushort> values)
    {
        if (width < 1 || height < 1 || values.Length != (long)width * height)
            throw new ArgumentException($"a {width}x{height} image needs {(long)width * height} values, got {values.Length}.");
        var pixels = new L16[values.Length];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = new L16(values[i]);
        using Image<L16> img = Image.LoadPixelData<L16>(pixels, width, height);
        using var ms = new MemoryStream();
        img.Save(ms, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 });
        return ms.ToArray();
    }

    /// <summary>Writes a grey (single-component) JPEG.</summary>
    public static void SaveJpeg(GreyImage image, string path, int quality = 95) => AtomicFile.Write(path, s => WriteJpeg(image, s, quality));

    /// <summary>Writes a grey (single-component) JPEG to a stream.</summary>
    public static void WriteJpeg(GreyImage image, Stream stream, int quality = 95)
    {
        ArgumentNullException.ThrowIfNull(image);
        using Image<L8> img = Image.LoadPixelData<L8>(image.Pixels, image.Width, image.Height);
        img.Save(stream, new JpegEncoder { Quality = quality, ColorType = JpegColorType.Luminance });
    }
}
