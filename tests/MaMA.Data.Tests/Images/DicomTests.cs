using System.Diagnostics;
using MaMA.Data.Images;

namespace MaMA.Data.Tests.Images;

[TestFixture]
public sealed class DicomTests
{
    // ---- helpers ----

    private static byte[] Part10(string transferSyntax, bool explicitVr, Action<DicomElementWriter> dataset) => ImageTestUtil.Part10(transferSyntax, explicitVr, dataset);

    private static string Syntax(bool explicitVr) => explicitVr ? DicomTransferSyntax.ExplicitVrLittleEndian : DicomTransferSyntax.ImplicitVrLittleEndian;

    /// <summary>The image pixel module of a 16-bit unsigned MONOCHROME2 image, without pixel data.</summary>
    private static void PixelModule(DicomElementWriter w, int rows, int columns, int bitsAllocated = 16, int? bitsStored = null, int representation = 0,
        string photometric = "MONOCHROME2", int samples = 1)
    {
        w.UShort(0x0028, 0x0002, (ushort)samples);
        w.Text(0x0028, 0x0004, "CS", photometric);
        w.UShort(0x0028, 0x0010, (ushort)rows);
        w.UShort(0x0028, 0x0011, (ushort)columns);
        w.UShort(0x0028, 0x0100, (ushort)bitsAllocated);
        w.UShort(0x0028, 0x0101, (ushort)(bitsStored ?? bitsAllocated));
        w.UShort(0x0028, 0x0103, (ushort)representation);
    }

    private static byte[] Words(params int[] values) => values.SelectMany(v => new[] { (byte)v, (byte)(v >> 8) }).ToArray();

    private static ImageReadException Fails(byte[] file, ImageReadOptions? options = null)
    {
        var e = Assert.Throws<ImageReadException>(() => DicomReader.Read(file, "case.dcm", options))!;
        Assert.That(e.Message, Does.StartWith("case.dcm: "));
        Assert.That(e.FilePath, Is.EqualTo("case.dcm"));
        return e;
    }

    private static readonly int[] Values16 = [0, 1, 255, 256, 1000, 4095, 40000, 65535, 12345, 2, 3, 4];

    // ---- supported syntaxes ----

    [TestCase(true, Photometric.Monochrome2, 16)]
    [TestCase(true, Photometric.Monochrome1, 16)]
    [TestCase(false, Photometric.Monochrome2, 16)]
    [TestCase(false, Photometric.Monochrome1, 16)]
    [TestCase(true, Photometric.Monochrome2, 8)]
    [TestCase(true, Photometric.Monochrome1, 8)]
    [TestCase(false, Photometric.Monochrome2, 8)]
    [TestCase(false, Photometric.Monochrome1, 8)]
    public void WrittenFilesReadBackExactly(bool explicitVr, Photometric photometric, int bits)
    {
        int[] values = bits == 16 ? Values16 : Values16.Select(v => v % 256).ToArray();
        var options = new DicomWriteOptions { ExplicitVr = explicitVr, Photometric = photometric, BitsAllocated = bits };
        byte[] file = DicomWriter.Encode(4, 3, values, options);
        DicomImage image = DicomReader.Read(file, "rt.dcm");
        Assert.Multiple(() =>
        {
            Assert.That(image.TransferSyntaxUid, Is.EqualTo(Syntax(explicitVr)));
            Assert.That(image.Columns, Is.EqualTo(4));
            Assert.That(image.Rows, Is.EqualTo(3));
            Assert.That(image.BitsAllocated, Is.EqualTo(bits));
            Assert.That(image.BitsStored, Is.EqualTo(bits));
            Assert.That(image.Signed, Is.False);
            Assert.That(image.Photometric, Is.EqualTo(photometric));
            Assert.That(image.StoredValues, Is.EqualTo(values));
            Assert.That(image.RescaleSlope, Is.EqualTo(1));
            Assert.That(image.RescaleIntercept, Is.EqualTo(0));
            Assert.That(image.WindowCenter, Is.Null);
        });
        RawImage raw = image.ToRawImage();
        Assert.That(raw.Samples, Is.EqualTo(values.Select(v => (float)v).ToArray()));
        Assert.That(raw.ScaleToMax, Is.True);
        Assert.That(raw.Photometric, Is.EqualTo(photometric));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void SignedTwelveBitValuesAreSignExtended(bool explicitVr)
    {
        int[] values = [-2048, -1, 0, 1, 2047, -100];
        byte[] file = DicomWriter.Encode(3, 2, values, new DicomWriteOptions { ExplicitVr = explicitVr, Signed = true, BitsStored = 12 });
        DicomImage image = DicomReader.Read(file, "s.dcm");
        Assert.That(image.Signed, Is.True);
        Assert.That(image.BitsStored, Is.EqualTo(12));
        Assert.That(image.StoredValues, Is.EqualTo(values));
    }

    [Test]
    public void SignedEightBit()
    {
        int[] values = [-128, -1, 0, 127];
        DicomImage image = DicomReader.Read(DicomWriter.Encode(2, 2, values, new DicomWriteOptions { BitsAllocated = 8, Signed = true }), "s8.dcm");
        Assert.That(image.StoredValues, Is.EqualTo(values));
    }

    [Test]
    public void BitsAboveBitsStoredAreMaskedForUnsignedAndSignExtendedForSigned()
    {
        // 12 bits stored; the top nibble holds junk (e.g. an overlay plane).
        foreach (int representation in new[] { 0, 1 })
        {
            byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
            {
                PixelModule(w, 1, 3, 16, 12, representation);
                w.Bytes(0x7FE0, 0x0010, "OW", Words(0xF123, 0x0FFF, 0xA800));
            });
            int[] expected = representation == 0 ? [0x123, 0xFFF, 0x800] : [0x123, -1, -2048];
            Assert.That(DicomReader.Read(file, "m.dcm").StoredValues, Is.EqualTo(expected), $"PixelRepresentation {representation}");
        }
    }

    [Test]
    public void RescaleAndWindowAreAppliedOnlyWhenAsked()
    {
        int[] values = [0, 49, 50, 100, 150, 200];
        var options = new DicomWriteOptions { RescaleSlope = 0.5, RescaleIntercept = 25, WindowCenter = 100, WindowWidth = 101 };
        DicomImage image = DicomReader.Read(DicomWriter.Encode(3, 2, values, options), "w.dcm");
        Assert.That(image.RescaleSlope, Is.EqualTo(0.5));
        Assert.That(image.RescaleIntercept, Is.EqualTo(25));
        Assert.That(image.WindowCenter, Is.EqualTo(100));
        Assert.That(image.WindowWidth, Is.EqualTo(101));

        // Reference: stored values as they are.
        Assert.That(image.ToRawImage().Samples, Is.EqualTo(new float[] { 0, 49, 50, 100, 150, 200 }));
        // Rescale: 0.5 v + 25.
        RawImage rescaled = image.ToRawImage(new DicomPixelOptions { ApplyRescale = true });
        Assert.That(rescaled.Samples, Is.EqualTo(new float[] { 25, 49.5f, 50, 75, 100, 125 }));
        Assert.That(rescaled.ScaleToMax, Is.True);
        // Window (LINEAR, c 100, w 101) on the rescaled values: <= 49.5 -> 0, > 149.5 -> 255, else ((x - 99.5) / 100 + 0.5) * 255.
        RawImage windowed = image.ToRawImage(new DicomPixelOptions { ApplyWindow = true });
        Assert.That(windowed.ScaleToMax, Is.False);
        float[] expected = [0, 0, (float)((50 - 99.5) / 100 + 0.5) * 255, (float)((75 - 99.5) / 100 + 0.5) * 255, (float)(0.505 * 255), (float)((125 - 99.5) / 100 + 0.5) * 255];
        Assert.That(windowed.Samples, Is.EqualTo(expected).Within(1e-3f));
    }

    [Test]
    public void WindowFunctionsFollowTheStandard()
    {
        Assert.That(DicomImage.Window(49.5, 100, 101, "LINEAR"), Is.EqualTo(0));
        Assert.That(DicomImage.Window(150, 100, 101, "LINEAR"), Is.EqualTo(255));
        Assert.That(DicomImage.Window(99.5, 100, 101, "LINEAR"), Is.EqualTo(127.5).Within(1e-9));
        Assert.That(DicomImage.Window(100, 100, 100, "LINEAR_EXACT"), Is.EqualTo(127.5).Within(1e-9));
        Assert.That(DicomImage.Window(50, 100, 100, "LINEAR_EXACT"), Is.EqualTo(0));
        Assert.That(DicomImage.Window(100, 100, 100, "SIGMOID"), Is.EqualTo(127.5).Within(1e-9));
    }

    [Test]
    public void MultiValuedWindowTakesTheFirstValue()
    {
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            PixelModule(w, 1, 2);
            w.Text(0x0028, 0x1050, "DS", "2047\\1500");
            w.Text(0x0028, 0x1051, "DS", " 4096 \\3000");
            w.Bytes(0x7FE0, 0x0010, "OW", Words(1, 2));
        });
        DicomImage image = DicomReader.Read(file, "mv.dcm");
        Assert.That(image.WindowCenter, Is.EqualTo(2047));
        Assert.That(image.WindowWidth, Is.EqualTo(4096));
    }

    [Test]
    public void FileReadNamesThePathAndWriterIsAtomicAndDeterministic()
    {
        string dir = ImageTestUtil.NewTempDir();
        string path = Path.Combine(dir, "a.dcm");
        DicomWriter.Write(path, 2, 2, [1, 2, 3, 4]);
        Assert.That(DicomReader.Read(path).StoredValues, Is.EqualTo(new[] { 1, 2, 3, 4 }));
        Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1), "no temporary file left behind");
        Assert.That(DicomWriter.Encode(2, 2, [1, 2, 3, 4]), Is.EqualTo(File.ReadAllBytes(path)), "same input, same bytes (derived UID)");
        Assert.That(DicomWriter.Encode(2, 2, [1, 2, 3, 5]), Is.Not.EqualTo(File.ReadAllBytes(path)));

        File.WriteAllBytes(path, [.. File.ReadAllBytes(path).AsSpan(0, 200)]);
        var e = Assert.Throws<ImageReadException>(() => DicomReader.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": "));
        Directory.Delete(dir, true);
    }

    [Test]
    public void WriterRejectsValuesOutsideTheStoredRange()
    {
        Assert.Throws<ArgumentException>(() => DicomWriter.Encode(2, 1, [0, 4096], new DicomWriteOptions { BitsStored = 12 }));
        Assert.Throws<ArgumentException>(() => DicomWriter.Encode(2, 1, [-1, 0]));
        Assert.Throws<ArgumentException>(() => DicomWriter.Encode(2, 1, [0, 256], new DicomWriteOptions { BitsAllocated = 8 }));
        Assert.Throws<ArgumentException>(() => DicomWriter.Encode(2, 1, [0, 1], new DicomWriteOptions { BitsAllocated = 12 }));
        Assert.That(DicomWriter.DecimalString(0.1 + 0.2).Length, Is.LessThanOrEqualTo(16));
        Assert.That(DicomWriter.DecimalString(-1024), Is.EqualTo("-1024"));
    }

    // ---- sequences ----

    [TestCase(true)]
    [TestCase(false)]
    public void SequencesOfEveryLengthKindAreSkipped(bool explicitVr)
    {
        // Items hold decoy Rows/Columns that must not be taken for the image's.
        byte[] Decoy() => new DicomElementWriter(explicitVr).UShort(0x0028, 0x0010, 7).UShort(0x0028, 0x0011, 9).Text(0x0008, 0x0100, "SH", "CODE").ToArray();
        byte[] nested = new DicomElementWriter(explicitVr)
            .Sequence(0x0008, 0x1115, [Decoy(), Decoy()], undefinedSequenceLength: true, undefinedItemLengths: true)
            .Sequence(0x0008, 0x1140, [Decoy()], undefinedSequenceLength: false, undefinedItemLengths: false)
            .UShort(0x0028, 0x0010, 99).ToArray();
        byte[] file = Part10(Syntax(explicitVr), explicitVr, w =>
        {
            w.Text(0x0008, 0x0060, "CS", "MG");
            w.Sequence(0x0008, 0x1032, [nested, Decoy()], undefinedSequenceLength: true, undefinedItemLengths: true);
            w.Sequence(0x0008, 0x1111, [nested], undefinedSequenceLength: false, undefinedItemLengths: true);
            w.Sequence(0x0008, 0x1120, [Decoy(), nested], undefinedSequenceLength: true, undefinedItemLengths: false);
            w.Sequence(0x0008, 0x2112, [], undefinedSequenceLength: true, undefinedItemLengths: true);
            w.Sequence(0x0008, 0x2113, [], undefinedSequenceLength: false, undefinedItemLengths: false);
            PixelModule(w, 2, 3);
            w.Bytes(0x7FE0, 0x0010, "OW", Words(1, 2, 3, 4, 5, 6));
        });
        DicomImage image = DicomReader.Read(file, "seq.dcm");
        Assert.That((image.Rows, image.Columns), Is.EqualTo((2, 3)));
        Assert.That(image.StoredValues, Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6 }));
    }

    [Test]
    public void UndefinedLengthUnHoldsImplicitVrItems()
    {
        byte[] implicitItem = new DicomElementWriter(explicitVr: false).UShort(0x0028, 0x0010, 7).Text(0x0008, 0x0100, "SH", "X").ToArray();
        byte[] items = new DicomElementWriter(explicitVr: false).Sequence(0x0009, 0x0010, [implicitItem], true, true).ToArray();
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            // A private UN element of undefined length: its body is an implicit-VR item list.
            w.Header(0x0009, 0x1001, "UN", 0xFFFFFFFF);
            w.Raw(items.AsSpan(8)); // drop the SQ element header the helper wrote, keep items + delimiter
            PixelModule(w, 1, 2);
            w.Bytes(0x7FE0, 0x0010, "OW", Words(5, 6));
        });
        Assert.That(DicomReader.Read(file, "un.dcm").StoredValues, Is.EqualTo(new[] { 5, 6 }));
    }

    // ---- unsupported transfer syntaxes ----

    [TestCase("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", "dcmdjpeg")]
    [TestCase("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", "dcmdjpeg")]
    [TestCase("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction", "dcmdjpeg")]
    [TestCase("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", "dcmdjpls")]
    [TestCase("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless)", "dcmdjpls")]
    [TestCase("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)", "gdcmconv")]
    [TestCase("1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression", "gdcmconv")]
    [TestCase("1.2.840.10008.1.2.5", "RLE Lossless", "dcmdrle")]
    [TestCase("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", "dcmconv +te")]
    [TestCase("1.2.840.10008.1.2.2", "Explicit VR Big Endian", "dcmconv +te")]
    [TestCase("1.2.3.4.5", "unknown transfer syntax", "gdcmconv")]
    public void UnsupportedTransferSyntaxesAreNamedWithAConversionHint(string uid, string name, string tool)
    {
        byte[] file = Part10(uid, true, w => PixelModule(w, 2, 2));
        ImageReadException e = Fails(file);
        Assert.That(e.Message, Does.Contain($"transfer syntax {uid} ({name}"));
        Assert.That(e.Message, Does.Contain("is not supported"));
        Assert.That(e.Message, Does.Contain("gdcmconv --raw in.dcm out.dcm"));
        Assert.That(e.Message, Does.Contain(tool));
        Assert.That(e.Message, Does.Contain(DicomTransferSyntax.ExplicitVrLittleEndian));
    }

    // ---- corrupt files ----

    [Test]
    public void EveryTruncationIsAClearError()
    {
        byte[] file = DicomWriter.Encode(5, 4, Enumerable.Range(0, 20).ToArray(), new DicomWriteOptions { RescaleSlope = 2, WindowCenter = 5, WindowWidth = 10 });
        for (int length = 0; length < file.Length; length++)
        {
            byte[] cut = file.AsSpan(0, length).ToArray();
            var e = Assert.Throws<ImageReadException>(() => DicomReader.Read(cut, "cut.dcm"), $"cut at {length} of {file.Length}")!;
            Assert.That(e.Message, Does.StartWith("cut.dcm: "));
        }
        var pixelCut = Assert.Throws<ImageReadException>(() => DicomReader.Read(file.AsSpan(0, file.Length - 7).ToArray(), "cut.dcm"))!;
        Assert.That(pixelCut.Message, Does.Contain("(7FE0,0010)").And.Contain("truncated"));
    }

    [Test]
    public void RandomCorruptionNeverEscapesAsAnotherExceptionOrHangs()
    {
        byte[][] originals =
        [
            DicomWriter.Encode(6, 5, Enumerable.Range(0, 30).ToArray(), new DicomWriteOptions { RescaleSlope = 1.5 }),
            DicomWriter.Encode(6, 5, Enumerable.Range(0, 30).ToArray(), new DicomWriteOptions { ExplicitVr = false, BitsAllocated = 8 }),
        ];
        var rng = new Random(7);
        var watch = Stopwatch.StartNew();
        int failures = 0;
        for (int trial = 0; trial < 4000; trial++)
        {
            byte[] file = (byte[])originals[trial % 2].Clone();
            int flips = 1 + rng.Next(4);
            for (int k = 0; k < flips; k++) file[132 + rng.Next(file.Length - 132)] = (byte)rng.Next(256);
            try
            {
                DicomImage image = DicomReader.Read(file, "fuzz.dcm");
                Assert.That(image.StoredValues, Has.Length.EqualTo(image.Rows * image.Columns));
            }
            catch (ImageReadException)
            {
                failures++;
            }
        }
        Assert.That(failures, Is.GreaterThan(100));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)));
    }

    [Test]
    public void LengthBeyondTheFileIsAnError()
    {
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            w.Header(0x0009, 0x1010, "OB", 0xFFFFFF00);
            w.Raw(new byte[16]);
        });
        Assert.That(Fails(file).Message, Does.Contain("(0009,1010)").And.Contain("declares 4,294,967,040 bytes"));

        byte[] implicitFile = Part10(DicomTransferSyntax.ImplicitVrLittleEndian, false, w =>
        {
            PixelModule(w, 2, 2);
            w.Header(0x7FE0, 0x0010, "OW", 0x7FFFFFFF);
            w.Raw(new byte[8]);
        });
        Assert.That(Fails(implicitFile).Message, Does.Contain("(7FE0,0010)").And.Contain("remain"));
    }

    [Test]
    public void WrongVrsAreErrors()
    {
        byte[] wrongVr = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            w.Bytes(0x0028, 0x0010, "SS", [2, 0]);
            w.Bytes(0x7FE0, 0x0010, "OW", Words(1, 2));
        });
        Assert.That(Fails(wrongVr).Message, Does.Contain("Rows (0028,0010) has VR 'SS', expected US"));

        byte[] badBytes = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w => w.Raw([0x28, 0x00, 0x10, 0x00, 0x01, 0x02, 0x02, 0x00, 0x02, 0x00]));
        Assert.That(Fails(badBytes).Message, Does.Contain("invalid VR bytes 0x01 0x02"));

        byte[] unknownVr = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w => w.Raw([0x28, 0x00, 0x10, 0x00, (byte)'Q', (byte)'Q', 0x02, 0x00, 0x02, 0x00]));
        Assert.That(Fails(unknownVr).Message, Does.Contain("unknown VR 'QQ'"));

        byte[] wrongLength = Part10(DicomTransferSyntax.ImplicitVrLittleEndian, false, w => w.Header(0x0028, 0x0011, "US", 1).Raw([5]));
        Assert.That(Fails(wrongLength).Message, Does.Contain("Columns (0028,0011)").And.Contain("expected 2 bytes"));

        byte[] pixelVr = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            PixelModule(w, 1, 1);
            w.Bytes(0x7FE0, 0x0010, "LO", [1, 2]);
        });
        Assert.That(Fails(pixelVr).Message, Does.Contain("Pixel Data (7FE0,0010) has VR 'LO'"));

        byte[] badDs = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w => w.Text(0x0028, 0x1053, "DS", "abc"));
        Assert.That(Fails(badDs).Message, Does.Contain("RescaleSlope (0028,1053) is not a decimal string: 'abc'"));
    }

    [Test]
    public void HugeDeclaredSizeFailsFastWithoutAllocating()
    {
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            PixelModule(w, 65535, 65535);
            w.Bytes(0x7FE0, 0x0010, "OW", Words(1, 2));
        });
        long before = GC.GetAllocatedBytesForCurrentThread();
        ImageReadException e = Fails(file);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1 << 20));
        Assert.That(e.Message, Does.Contain("65535 x 65535 = 4,294,836,225 pixels exceeds the limit of 100,000,000"));

        byte[] small = DicomWriter.Encode(100, 100, new int[10000]);
        Assert.That(Fails(small, new ImageReadOptions { MaxPixels = 9999 }).Message, Does.Contain("exceeds the limit of 9,999"));
        Assert.That(DicomReader.Read(small, "ok.dcm", new ImageReadOptions { MaxPixels = 10000 }).Rows, Is.EqualTo(100));
    }

    [Test]
    public void ShortPixelDataIsAnError()
    {
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            PixelModule(w, 10, 10);
            w.Bytes(0x7FE0, 0x0010, "OW", Words(1, 2, 3));
        });
        Assert.That(Fails(file).Message, Does.Contain("Pixel Data holds 6 bytes but 10 x 10 pixels of 2 byte(s) need 200 (truncated pixel data)"));
    }

    [TestCase(0, 5, "the image is empty (Rows 0, Columns 5)")]
    [TestCase(5, 0, "the image is empty (Rows 5, Columns 0)")]
    public void ZeroSizeIsAnError(int rows, int columns, string message)
    {
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            PixelModule(w, rows, columns);
            w.Bytes(0x7FE0, 0x0010, "OW", []);
        });
        Assert.That(Fails(file).Message, Does.Contain(message));
    }

    [Test]
    public void UnsupportedImagesAreNamed()
    {
        byte[] Make(Action<DicomElementWriter> module) => Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            module(w);
            w.Bytes(0x7FE0, 0x0010, "OW", new byte[64]);
        });
        Assert.That(Fails(Make(w => PixelModule(w, 2, 2, samples: 3))).Message, Does.Contain("SamplesPerPixel is 3"));
        Assert.That(Fails(Make(w => PixelModule(w, 2, 2, photometric: "RGB"))).Message, Does.Contain("PhotometricInterpretation 'RGB' is not supported"));
        Assert.That(Fails(Make(w => PixelModule(w, 2, 2, bitsAllocated: 32, bitsStored: 32))).Message, Does.Contain("BitsAllocated 32 is not supported"));
        Assert.That(Fails(Make(w => PixelModule(w, 2, 2, bitsStored: 17))).Message, Does.Contain("BitsStored 17"));
        Assert.That(Fails(Make(w => PixelModule(w, 2, 2, representation: 2))).Message, Does.Contain("PixelRepresentation 2"));
        Assert.That(Fails(Make(w =>
        {
            PixelModule(w, 2, 2);
            w.Text(0x0028, 0x0008, "IS", "3");
        })).Message, Does.Contain("NumberOfFrames is 3"));
        Assert.That(Fails(Make(w => w.UShort(0x0028, 0x0010, 2).UShort(0x0028, 0x0011, 2))).Message, Does.Contain("PhotometricInterpretation (0028,0004) is missing"));
        Assert.That(Fails(Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w => PixelModule(w, 2, 2))).Message, Does.Contain("no Pixel Data"));
    }

    [Test]
    public void EncapsulatedPixelDataInANativeSyntaxIsAnError()
    {
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            PixelModule(w, 2, 2);
            w.Header(0x7FE0, 0x0010, "OB", 0xFFFFFFFF);
            w.Raw(new byte[32]);
        });
        Assert.That(Fails(file).Message, Does.Contain("encapsulated (compressed) pixel data"));
    }

    [Test]
    public void NotPart10AndMissingSyntaxAreErrors()
    {
        Assert.That(Fails([]).Message, Does.Contain("too short"));
        Assert.That(Fails(new byte[300]).Message, Does.Contain("no 'DICM' marker"));
        byte[] noSyntax = [.. new byte[128], .. "DICM"u8, .. new DicomElementWriter(true).Text(0x0002, 0x0002, "UI", "1.2").ToArray()];
        Assert.That(Fails(noSyntax).Message, Does.Contain("no Transfer Syntax UID (0002,0010)"));
    }

    [Test]
    public void DeepNestingIsRefused()
    {
        byte[] inner = [];
        for (int depth = 0; depth < 40; depth++)
            inner = new DicomElementWriter(true).Sequence(0x0008, 0x1115, [inner], true, true).ToArray();
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, d => d.Raw(inner));
        Assert.That(Fails(file).Message, Does.Contain("nested deeper than 32"));
    }

    [Test]
    public void StrayDelimitersAreErrors()
    {
        byte[] file = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w => w.Raw([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]));
        Assert.That(Fails(file).Message, Does.Contain("(FFFE,E00D)").And.Contain("outside any sequence"));
        byte[] badItem = Part10(DicomTransferSyntax.ExplicitVrLittleEndian, true, w =>
        {
            w.Header(0x0008, 0x1115, "SQ", 0xFFFFFFFF);
            w.Raw([0x08, 0x00, 0x10, 0x00, 0, 0, 0, 0]);
        });
        Assert.That(Fails(badItem).Message, Does.Contain("expected a sequence item"));
    }
}
