using System.Diagnostics;
using MaMA.Data.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace MaMA.Data.Tests.Images;

[TestFixture]
public sealed class ImageReaderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = ImageTestUtil.NewTempDir();

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => System.IO.Path.Combine(_dir, name);

    private static ImageReadException Fails(byte[] data, ImageReadOptions? options = null)
    {
        var e = Assert.Throws<ImageReadException>(() => ImageReader.Read(data, "img.bin", options))!;
        Assert.That(e.Message, Does.StartWith("img.bin: "));
        return e;
    }

    [Test]
    public void EightBitPngRoundTrips()
    {
        GreyImage image = ImageTestUtil.Pattern(37, 23, 5);
        string path = PathOf("a.png");
        ImageWriter.SavePng(image, path);
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { path }), "no temporary file left");
        var info = SixLabors.ImageSharp.Image.Identify(path);
        Assert.That(info.Metadata.GetPngMetadata().ColorType, Is.EqualTo(PngColorType.Grayscale));
        Assert.That(info.Metadata.GetPngMetadata().BitDepth, Is.EqualTo(PngBitDepth.Bit8));

        RawImage raw = ImageReader.Read(path);
        Assert.That((raw.Width, raw.Height, raw.ScaleToMax, raw.Photometric), Is.EqualTo((37, 23, false, Photometric.Monochrome2)));
        Assert.That(raw.Samples, Is.EqualTo(image.Pixels.Select(p => (float)p).ToArray()));
        Assert.That(ImageReader.ReadGrey8(path).Pixels, Is.EqualTo(image.Pixels));
    }

    [Test]
    public void SixteenBitPngKeepsAllSixteenBits()
    {
        ushort[] values = [0, 1, 255, 256, 257, 4095, 32768, 65534, 65535, 12345, 54321, 7];
        byte[] png = ImageWriter.EncodePng16(4, 3, values);
        var info = SixLabors.ImageSharp.Image.Identify(png);
        Assert.That(info.Metadata.GetPngMetadata().BitDepth, Is.EqualTo(PngBitDepth.Bit16));
        RawImage raw = ImageReader.Read(png, "16.png");
        Assert.That(raw.Samples, Is.EqualTo(values.Select(v => (float)v).ToArray()));
        Assert.That(raw.ScaleToMax, Is.True);

        string path = PathOf("b.png");
        ImageWriter.SavePng16(4, 3, values, path);
        Assert.That(ImageReader.Read(path).Samples, Is.EqualTo(raw.Samples));
    }

    [Test]
    public void ColourBecomesGreyWithOpenCvWeights()
    {
        var colours = new Rgba32[] { new(255, 0, 0, 255), new(0, 255, 0, 10), new(0, 0, 255, 255), new(200, 100, 50, 255), new(7, 7, 7, 0), new(255, 255, 255, 255) };
        using (var img = SixLabors.ImageSharp.Image.LoadPixelData<Rgba32>(colours, 3, 2))
            img.SaveAsPng(PathOf("c.png"));
        RawImage raw = ImageReader.Read(PathOf("c.png"));
        // cv2.cvtColor(RGB2GRAY) on 8 bits: (4899 R + 9617 G + 1868 B + 8192) >> 14; alpha ignored.
        Assert.That(raw.Samples, Is.EqualTo(new float[] { 76, 150, 29, 124, 7, 255 }));
        Assert.That(raw.ScaleToMax, Is.False);

        var deep = new Rgb48[] { new(65535, 0, 0), new(1000, 2000, 3000) };
        using (var img = SixLabors.ImageSharp.Image.LoadPixelData<Rgb48>(deep, 2, 1))
            img.Save(PathOf("d.png"), new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit16 });
        RawImage raw16 = ImageReader.Read(PathOf("d.png"));
        Assert.That(raw16.Samples, Is.EqualTo(new float[] { ImageReader.Bt601(65535, 0, 0), ImageReader.Bt601(1000, 2000, 3000) }));
        Assert.That(raw16.ScaleToMax, Is.True);
    }

    [Test]
    public void GreyAndColourJpegAreRead()
    {
        var smooth = new GreyImage(32, 16, Enumerable.Range(0, 32 * 16).Select(i => (byte)(i % 32 * 8)).ToArray());
        string path = PathOf("g.jpg");
        ImageWriter.SaveJpeg(smooth, path, quality: 100);
        RawImage raw = ImageReader.Read(path);
        Assert.That((raw.Width, raw.Height, raw.ScaleToMax), Is.EqualTo((32, 16, false)));
        for (int i = 0; i < raw.Samples.Length; i++) Assert.That(raw.Samples[i], Is.EqualTo(smooth.Pixels[i]).Within(4), $"pixel {i}");

        var colour = Enumerable.Repeat(new Rgb24(200, 100, 50), 64).ToArray();
        using (var img = SixLabors.ImageSharp.Image.LoadPixelData<Rgb24>(colour, 8, 8))
            img.SaveAsJpeg(PathOf("c.jpg"), new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder { Quality = 100 });
        RawImage grey = ImageReader.Read(PathOf("c.jpg"));
        Assert.That(grey.Samples, Has.All.EqualTo(124f).Within(3));
    }

    [Test]
    public void JpegAboveThePixelLimitFailsBeforeDecoding()
    {
        byte[] jpeg = JpegBytes(new GreyImage(16, 16));
        int sof = IndexOfMarker(jpeg, 0xC0);
        Assert.That(sof, Is.GreaterThan(0), "baseline SOF0 marker");
        // Claim 60000 x 50000 pixels: 3 gigapixels that the 16x16 data could never fill.
        jpeg[sof + 5] = 50000 >> 8; jpeg[sof + 6] = 50000 & 0xFF;
        jpeg[sof + 7] = 60000 >> 8; jpeg[sof + 8] = 60000 & 0xFF;
        long before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        ImageReadException e = Fails(jpeg);
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(16 << 20));
        Assert.That(e.Message, Does.Contain("JPEG image is 60000 x 50000 = 3,000,000,000 pixels, over the limit of 100,000,000 pixels"));

        byte[] fine = JpegBytes(new GreyImage(20, 10));
        Assert.That(Fails(fine, new ImageReadOptions { MaxPixels = 199 }).Message, Does.Contain("over the limit of 199 pixels"));
        Assert.That(ImageReader.Read(fine, "ok.jpg", new ImageReadOptions { MaxPixels = 200 }).Width, Is.EqualTo(20));
    }

    [Test]
    public void PngAboveThePixelLimitFailsBeforeDecoding()
    {
        byte[] png = ImageWriter.EncodePng(new GreyImage(8, 8));
        // IHDR data starts at 16: width, height (big endian), then its CRC over type + data at 29.
        WriteBigEndian(png, 16, 40000);
        WriteBigEndian(png, 20, 40000);
        WriteBigEndian(png, 29, Crc32(png.AsSpan(12, 17)));
        Assert.That(Fails(png).Message, Does.Contain("PNG image is 40000 x 40000 = 1,600,000,000 pixels, over the limit"));
    }

    [Test]
    public void TruncatedPngAndJpegAreErrors()
    {
        byte[] png = ImageWriter.EncodePng(ImageTestUtil.Pattern(40, 30, 3));
        foreach (int cut in new[] { 20, 40, png.Length / 2, png.Length - 13, png.Length - 1 })
            Assert.That(Fails(png.AsSpan(0, cut).ToArray()).Message, Does.Contain("PNG"), $"cut at {cut}");
        Assert.That(Fails(png.AsSpan(0, png.Length / 2).ToArray()).Message, Does.Contain("truncated"));

        byte[] jpeg = JpegBytes(ImageTestUtil.Pattern(64, 64, 4));
        foreach (int cut in new[] { jpeg.Length / 2, jpeg.Length - 2, jpeg.Length - 1 })
            Assert.That(Fails(jpeg.AsSpan(0, cut).ToArray()).Message, Does.Contain("JPEG is truncated: no end-of-image marker"), $"cut at {cut}");
        Assert.That(Fails(jpeg.AsSpan(0, 10).ToArray()).Message, Does.Contain("JPEG"));
    }

    [Test]
    public void CorruptPngAndJpegGiveReadErrorsOnly()
    {
        byte[][] originals = [ImageWriter.EncodePng(ImageTestUtil.Pattern(30, 20, 8)), JpegBytes(ImageTestUtil.Pattern(30, 20, 9))];
        var rng = new Random(3);
        int errors = 0;
        for (int trial = 0; trial < 600; trial++)
        {
            byte[] data = (byte[])originals[trial % 2].Clone();
            for (int k = 0; k < 3; k++) data[8 + rng.Next(data.Length - 8)] = (byte)rng.Next(256);
            try
            {
                RawImage raw = ImageReader.Read(data, "fuzz");
                Assert.That(raw.Samples, Has.Length.EqualTo(raw.Width * raw.Height));
            }
            catch (ImageReadException)
            {
                errors++;
            }
        }
        Assert.That(errors, Is.GreaterThan(50));
    }

    [Test]
    public void UnknownEmptyAndMissingFiles()
    {
        Assert.That(Fails([]).Message, Does.Contain("empty"));
        Assert.That(Fails("GIF89a......"u8.ToArray()).Message, Does.Contain("unrecognised format"));
        Assert.Throws<FileNotFoundException>(() => ImageReader.Read(PathOf("missing.png")));
        File.WriteAllText(PathOf("text.png"), "not an image");
        var e = Assert.Throws<ImageReadException>(() => ImageReader.Read(PathOf("text.png")))!;
        Assert.That(e.Message, Does.StartWith(PathOf("text.png") + ": unrecognised format"));
    }

    [Test]
    public void FormatsAreDetectedByContentNotName()
    {
        byte[] dicom = DicomWriter.Encode(2, 2, [0, 100, 200, 300]);
        File.WriteAllBytes(PathOf("really-a-dicom.png"), dicom);
        RawImage raw = ImageReader.Read(PathOf("really-a-dicom.png"));
        Assert.That(raw.Samples, Is.EqualTo(new float[] { 0, 100, 200, 300 }));
        Assert.That(ImageReader.Detect(dicom), Is.EqualTo(ImageFileKind.Dicom));
        Assert.That(ImageReader.Detect(ImageWriter.EncodePng(new GreyImage(1, 1))), Is.EqualTo(ImageFileKind.Png));
        Assert.That(ImageReader.Detect(JpegBytes(new GreyImage(1, 1))), Is.EqualTo(ImageFileKind.Jpeg));
        // DICOM read through ImageReader honours the DICOM options.
        byte[] rescaled = DicomWriter.Encode(2, 1, [1, 2], new DicomWriteOptions { RescaleSlope = 10 });
        var options = new ImageReadOptions { Dicom = new DicomPixelOptions { ApplyRescale = true } };
        Assert.That(ImageReader.Read(rescaled, "r.dcm", options).Samples, Is.EqualTo(new float[] { 10, 20 }));
    }

    private static byte[] JpegBytes(GreyImage image)
    {
        using var ms = new MemoryStream();
        ImageWriter.WriteJpeg(image, ms);
        return ms.ToArray();
    }

    private static int IndexOfMarker(byte[] data, byte marker)
    {
        for (int i = 2; i + 1 < data.Length; i++)
            if (data[i] == 0xFF && data[i + 1] == marker) return i;
        return -1;
    }

    private static void WriteBigEndian(byte[] data, int at, uint value)
    {
        data[at] = (byte)(value >> 24);
        data[at + 1] = (byte)(value >> 16);
        data[at + 2] = (byte)(value >> 8);
        data[at + 3] = (byte)value;
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
