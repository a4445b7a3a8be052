using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace MaMA.Data.Images;

/// <summary>
/// Reads DICOM Part 10, PNG and JPEG files into <see cref="RawImage"/>s, telling the formats apart by
/// their first bytes (not the file name). PNG and JPEG go through ImageSharp 2.x:
/// <list type="bullet">
/// <item>grey PNG of 16 bits keeps all 16 bits (ImageSharp <c>L16</c>) and is stretched by 255/max in
/// preprocessing like DICOM; grey PNG of 1-8 bits and grey JPEG give 0-255 used as they are;</item>
/// <item>colour (RGB, palette, with or without alpha) becomes grey with OpenCV's BT.601 integer weights
/// <c>(4899 R + 9617 G + 1868 B + 8192) &gt;&gt; 14</c>, alpha ignored (what <c>cv2.imread(path, 0)</c> does);</item>
/// <item>the size is read from the header (<c>Image.Identify</c>) and checked against
/// <see cref="ImageReadOptions.MaxPixels"/> before decoding, so decompression bombs fail fast;</item>
/// <item>a PNG must reach its IEND chunk with every chunk inside the file, and a JPEG must end with
/// its EOI marker (FF D9, within the last 4 KiB), so truncated files are errors even where the
/// decoder would quietly fill the missing rows; decoder exceptions are wrapped.</item>
/// </list>
/// Every failure is an <see cref="ImageReadException"/> that names the file.
/// </summary>
public static class ImageReader
{
    /// <summary>Files larger than this are refused before being read (1 GiB).</summary>
    public const long MaxFileBytes = 1L << 30;

    /// <summary>The kind of an image file from its first bytes.</summary>
    public static ImageFileKind Detect(ReadOnlySpan<byte> start)
    {
        if (DicomReader.HasPart10Header(start)) return ImageFileKind.Dicom;
        if (start.Length >= 8 && start[..8].SequenceEqual(PngSignature)) return ImageFileKind.Png;
        if (start.Length >= 3 && start[0] == 0xFF && start[1] == 0xD8 && start[2] == 0xFF) return ImageFileKind.Jpeg;
        return ImageFileKind.Unknown;
    }

    /// <summary>Reads a DICOM, PNG or JPEG file.</summary>
    public static RawImage Read(string path, ImageReadOptions? options = null)
    {
        options ??= ImageReadOptions.Default;
        long length = new FileInfo(path).Length; // FileNotFoundException names the file
        if (length > MaxFileBytes)
            throw new ImageReadException(path, $"file is {length:N0} bytes, over the {MaxFileBytes:N0}-byte limit for one image.");
        return Read(File.ReadAllBytes(path), path, options);
    }

    /// <summary>Reads an image held in memory; <paramref name="name"/> is used in messages.</summary>
    public static RawImage Read(byte[] data, string name, ImageReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= ImageReadOptions.Default;
        return Detect(data) switch
        {
            ImageFileKind.Dicom => DicomReader.Read(data, name, options).ToRawImage(options.Dicom),
            ImageFileKind.Png => ReadWithImageSharp(data, name, isPng: true, options.MaxPixels),
            ImageFileKind.Jpeg => ReadWithImageSharp(data, name, isPng: false, options.MaxPixels),
            _ => throw new ImageReadException(name, data.Length == 0
                ? "the file is empty."
                : "unrecognised format: not DICOM Part 10 ('DICM' at byte 128), PNG or JPEG."),
        };
    }

    /// <summary>Reads any supported file as an 8-bit grey image (through <see cref="Preprocessing.ToEightBit"/>; no resizing).</summary>
    public static GreyImage ReadGrey8(string path, ImageReadOptions? options = null) => Preprocessing.ToEightBit(Read(path, options));

    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static RawImage ReadWithImageSharp(byte[] data, string name, bool isPng, long maxPixels)
    {
        string kind = isPng ? "PNG" : "JPEG";
        IImageInfo? info;
        try
        {
            info = Image.Identify(data, out IImageFormat? _);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ImageReadException(name, $"{kind} header cannot be read: {e.Message}", e);
        }
        if (info is null) throw new ImageReadException(name, $"{kind} header cannot be read.");
        long pixels = (long)info.Width * info.Height;
        if (info.Width < 1 || info.Height < 1) throw new ImageReadException(name, $"{kind} image is empty ({info.Width}x{info.Height}).");
        if (pixels > maxPixels || pixels > Array.MaxLength)
            throw new ImageReadException(name, $"{kind} image is {info.Width} x {info.Height} = {pixels:N0} pixels, over the limit of {maxPixels:N0} pixels (ImageReadOptions.MaxPixels); not decoded.");

        if (isPng) CheckPngComplete(data, name);
        else CheckJpegComplete(data, name);

        try
        {
            if (isPng)
            {
                PngMetadata png = info.Metadata.GetPngMetadata();
                bool grey = png.ColorType is PngColorType.Grayscale or PngColorType.GrayscaleWithAlpha;
                bool sixteen = png.BitDepth == PngBitDepth.Bit16;
                if (grey && sixteen) return FromL16(data, name);
                if (grey) return FromL8(data, name);
                return sixteen ? FromRgb48(data, name) : FromRgb24(data, name);
            }
            JpegMetadata jpeg = info.Metadata.GetJpegMetadata();
            return jpeg.ColorType == JpegColorType.Luminance ? FromL8(data, name) : FromRgb24(data, name);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or ImageReadException))
        {
            throw new ImageReadException(name, $"{kind} data cannot be decoded: {e.Message}", e);
        }
    }

    private static RawImage FromL8(byte[] data, string name)
    {
        using Image<L8> image = Image.Load<L8>(data);
        var pixels = new L8[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        var samples = new float[pixels.Length];
        for (int i = 0; i < samples.Length; i++) samples[i] = pixels[i].PackedValue;
        return new RawImage(image.Width, image.Height, samples, Photometric.Monochrome2, scaleToMax: false, name);
    }

    private static RawImage FromL16(byte[] data, string name)
    {
        using Image<L16> image = Image.Load<L16>(data);
        var pixels = new L16[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        var samples = new float[pixels.Length];
        for (int i = 0; i < samples.Length; i++) samples[i] = pixels[i].PackedValue;
        return new RawImage(image.Width, image.Height, samples, Photometric.Monochrome2, scaleToMax: true, name);
    }

    private static RawImage FromRgb24(byte[] data, string name)
    {
        using Image<Rgb24> image = Image.Load<Rgb24>(data);
        var pixels = new Rgb24[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        var samples = new float[pixels.Length];
        for (int i = 0; i < samples.Length; i++) samples[i] = Bt601(pixels[i].R, pixels[i].G, pixels[i].B);
        return new RawImage(image.Width, image.Height, samples, Photometric.Monochrome2, scaleToMax: false, name);
    }

    private static RawImage FromRgb48(byte[] data, string name)
    {
        using Image<Rgb48> image = Image.Load<Rgb48>(data);
        var pixels = new Rgb48[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        var samples = new float[pixels.Length];
        for (int i = 0; i < samples.Length; i++) samples[i] = Bt601(pixels[i].R, pixels[i].G, pixels[i].B);
        return new RawImage(image.Width, image.Height, samples, Photometric.Monochrome2, scaleToMax: true, name);
    }

    /// <summary>OpenCV's RGB to grey: BT.601 weights in 14-bit fixed point, rounded.</summary>
    internal static int Bt601(int r, int g, int b) => (r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14;

    /// <summary>Walks the PNG chunks: each must lie inside the file and IEND must be reached.</summary>
    internal static void CheckPngComplete(byte[] data, string name)
    {
        long pos = 8;
        while (true)
        {
            if (pos + 8 > data.Length)
                throw new ImageReadException(name, $"PNG is truncated: it ends at byte {data.Length:N0} inside a chunk header, before the IEND chunk.");
            uint length = (uint)(data[pos] << 24 | data[pos + 1] << 16 | data[pos + 2] << 8 | data[pos + 3]);
            string type = System.Text.Encoding.ASCII.GetString(data, (int)pos + 4, 4);
            if (length > int.MaxValue)
                throw new ImageReadException(name, $"PNG chunk '{type}' at byte {pos:N0} declares an impossible length {length:N0} (corrupt file).");
            if (pos + 12 + length > data.Length)
                throw new ImageReadException(name, $"PNG is truncated: chunk '{type}' at byte {pos:N0} declares {length:N0} bytes but the file ends at {data.Length:N0}.");
            if (type == "IEND") return;
            pos += 12 + length;
        }
    }

    /// <summary>A complete JPEG ends with EOI (FF D9); trailing padding up to 4 KiB is tolerated.</summary>
    internal static void CheckJpegComplete(byte[] data, string name)
    {
        int from = Math.Max(2, data.Length - 4096);
        for (int i = data.Length - 2; i >= from; i--)
            if (data[i] == 0xFF && data[i + 1] == 0xD9) return;
        throw new ImageReadException(name, "JPEG is truncated: no end-of-image marker (FF D9) at its end.");
    }
}

/// <summary>What <see cref="ImageReader.Detect"/> found.</summary>
public enum ImageFileKind
{
    Unknown,
    Dicom,
    Png,
    Jpeg,
}
