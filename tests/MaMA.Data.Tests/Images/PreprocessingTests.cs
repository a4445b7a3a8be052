using MaMA.Data.Images;
using static MaMA.Data.Tests.Images.ImageTestUtil;

namespace MaMA.Data.Tests.Images;

/// <summary>
/// Preprocessing against expected pixels. Small cases are written out; larger ones compare SHA-256
/// hashes of the output with those of OpenCV 4.6 (<c>cv2.resize(..., INTER_AREA)</c>, the reference's
/// <c>resize_img</c>) on the same <see cref="ImageTestUtil.Pattern"/> inputs, computed once in Python.
/// </summary>
[TestFixture]
public sealed class PreprocessingTests
{
    [Test]
    public void SixteenBitIsScaledBy255OverMaxLikeConvertScaleAbs()
    {
        var raw = new RawImage(4, 2, [0, 1000, 2000, 4095, 3, 7, 1234, 4094], Photometric.Monochrome2, scaleToMax: true, "t");
        // cv2.convertScaleAbs(x, alpha=255/x.max())
        Assert.That(Rows(Preprocessing.ToEightBit(raw)), Is.EqualTo(new[] { new byte[] { 0, 62, 125, 255 }, [0, 0, 77, 255] }));
    }

    [Test]
    public void SignedValuesTakeTheAbsoluteValueAndTiesRoundToEven()
    {
        // max 200: alpha 1.275; -100 -> 127.5 -> 128 (even), 50 -> 63.75 -> 64, -7 -> 8.925 -> 9. As OpenCV.
        var raw = new RawImage(4, 1, [-100, 50, 200, -7], Photometric.Monochrome2, scaleToMax: true, "t");
        Assert.That(Preprocessing.ToEightBit(raw).Pixels, Is.EqualTo(new byte[] { 128, 64, 255, 9 }));
        // Exact halves: max 510 gives alpha 0.5; 1 -> 0.5 -> 0, 3 -> 1.5 -> 2, 5 -> 2.5 -> 2.
        var halves = new RawImage(4, 1, [1, 3, 5, 510], Photometric.Monochrome2, scaleToMax: true, "t");
        Assert.That(Preprocessing.ToEightBit(halves).Pixels, Is.EqualTo(new byte[] { 0, 2, 2, 255 }));
    }

    [Test]
    public void AllZeroImageStaysZeroAndMonochrome1Inverts()
    {
        var zero = new RawImage(2, 2, new float[4], Photometric.Monochrome2, scaleToMax: true, "t");
        Assert.That(Preprocessing.ToEightBit(zero).Pixels, Is.EqualTo(new byte[4]));
        var zero1 = new RawImage(2, 2, new float[4], Photometric.Monochrome1, scaleToMax: true, "t");
        Assert.That(Preprocessing.ToEightBit(zero1).Pixels, Is.EqualTo(new byte[] { 255, 255, 255, 255 }));
        var mono1 = new RawImage(3, 1, [0, 100, 200], Photometric.Monochrome1, scaleToMax: true, "t");
        Assert.That(Preprocessing.ToEightBit(mono1).Pixels, Is.EqualTo(new byte[] { 255, 127, 0 })); // 255 - {0, 127.5 -> 128, 255}
    }

    [Test]
    public void EightBitSourcesAreNotStretched()
    {
        var raw = new RawImage(3, 1, [10, 20, 30], Photometric.Monochrome2, scaleToMax: false, "t");
        Assert.That(Preprocessing.ToEightBit(raw).Pixels, Is.EqualTo(new byte[] { 10, 20, 30 }));
    }

    [Test]
    public void DicomMonochrome1ThroughTheWholePipeline()
    {
        byte[] file = DicomWriter.Encode(4, 2, [0, 1000, 2000, 4000, 0, 0, 4000, 4000], new DicomWriteOptions { Photometric = Photometric.Monochrome1, BitsStored = 12 });
        GreyImage image = Preprocessing.Prepare(ImageReader.Read(file, "m1.dcm"), size: 8);
        // 255/4000: {0, 63.75, 127.5, 255} -> {0, 64, 128, 255}, inverted, then 4x2 -> 8x4 (pixel doubling), padded 2 rows top and bottom.
        byte[] top = [255, 255, 191, 191, 127, 127, 0, 0];
        byte[] bottom = [255, 255, 255, 255, 0, 0, 0, 0];
        Assert.That(Rows(image), Is.EqualTo(new[] { new byte[8], new byte[8], top, top, bottom, bottom, new byte[8], new byte[8] }));
    }

    [Test]
    public void WideImageIsEnlargedAndPaddedTopAndBottom()
    {
        // 4x2 to long side 8: INTER_AREA doubles each pixel; 4 rows of padding split 2 / 2.
        GreyImage image = Preprocessing.ResizeToSquare(Image(4, 10, 20, 30, 40, 50, 60, 70, 80), 8);
        byte[] a = [10, 10, 20, 20, 30, 30, 40, 40], b = [50, 50, 60, 60, 70, 70, 80, 80];
        Assert.That(Rows(image), Is.EqualTo(new[] { new byte[8], new byte[8], a, a, b, b, new byte[8], new byte[8] }));
    }

    [Test]
    public void OddPaddingPutsTheExtraPixelAfter()
    {
        // 5x2 to 8: height int(2 * 8 / 5) = 3, 5 rows of padding: floor 2 above, ceil 3 below (np.pad as the reference).
        GreyImage wide = Image(5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100);
        byte[][] expected =
        [
            new byte[8], new byte[8],
            [10, 14, 20, 28, 32, 40, 46, 50],
            [35, 39, 45, 53, 57, 65, 71, 75],
            [60, 64, 70, 78, 82, 90, 96, 100],
            new byte[8], new byte[8], new byte[8],
        ];
        Assert.That(Rows(Preprocessing.ResizeToSquare(wide, 8)), Is.EqualTo(expected));

        // The transpose: 2x5 is tall, so 2 columns of padding on the left and 3 on the right.
        var tall = new GreyImage(2, 5, [10, 60, 20, 70, 30, 80, 40, 90, 50, 100]);
        GreyImage t = Preprocessing.ResizeToSquare(tall, 8);
        for (int y = 0; y < 8; y++)
        {
            Assert.That(t.Row(y)[..2].ToArray(), Is.EqualTo(new byte[2]));
            Assert.That(t.Row(y)[5..].ToArray(), Is.EqualTo(new byte[3]));
            Assert.That(t.Row(y)[2..5].ToArray(), Is.EqualTo(new[] { expected[2][y], expected[3][y], expected[4][y] }));
        }
    }

    [Test]
    public void TargetSizeTruncatesLikeTheReference()
    {
        Assert.That(Preprocessing.TargetSize(3328, 4096, 1024), Is.EqualTo((832, 1024)));
        Assert.That(Preprocessing.TargetSize(4096, 3328, 1024), Is.EqualTo((1024, 832)));
        Assert.That(Preprocessing.TargetSize(1330, 1650, 1024), Is.EqualTo((825, 1024))); // 825.4 -> 825
        Assert.That(Preprocessing.TargetSize(100, 100, 1024), Is.EqualTo((1024, 1024)));   // square counts as tall
        Assert.That(Preprocessing.TargetSize(1, 5000, 1024), Is.EqualTo((1, 1024)));      // would be 0: kept at 1
        Assert.That(Preprocessing.ResizeToSquare(Image(4, 1, 2, 3, 4, 5, 6, 7, 8), 8, pad: false).Height, Is.EqualTo(4));
    }

    [Test]
    public void AreaDownscaleAveragesWithFractionalWeights()
    {
        // 6x4 -> 4x3: each output pixel covers 1.5 x 1.33 source pixels (cv2.resize INTER_AREA).
        GreyImage src = new(6, 4, Enumerable.Range(1, 24).Select(v => (byte)(v * 10)).ToArray());
        Assert.That(Rows(AreaResize.Resize(src, 4, 3)), Is.EqualTo(new[]
        {
            new byte[] { 28, 42, 58, 72 },
            [103, 117, 133, 147],
            [178, 192, 208, 222],
        }));
        // 2x2 blocks: the mean rounded half up, (sum + 2) >> 2: (1 + 2 + 3 + 4 + 2) >> 2 = 3 (2.5 -> 3).
        Assert.That(AreaResize.Resize(Image(2, 1, 2, 3, 4), 1, 1).Pixels, Is.EqualTo(new byte[] { 3 }));
        // 4x4 blocks: sum * (1/16) rounded half to even: 8 / 16 = 0.5 -> 0.
        Assert.That(AreaResize.Resize(new GreyImage(4, 4, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]), 1, 1).Pixels, Is.EqualTo(new byte[] { 0 }));
    }

    // Expected: hashlib.sha256(cv2.resize(pattern, (dw, dh), interpolation=cv2.INTER_AREA).tobytes()), OpenCV 4.6.
    [TestCase(1000, 700, 512, 358, 1u, "8acf3057829cb8c8fa75c11d16d0978360d4d5a12ea5e31d15825c1c9e0cf173", TestName = "Area shrink fractional 1000x700 to 512x358")]
    [TestCase(2048, 1664, 1024, 832, 2u, "bf76d62a2f001981f7a291d74dd1be53cc0d74bfbf4b7196a5f7ec6280c90bdc", TestName = "Area shrink 2x2 blocks")]
    [TestCase(300, 201, 100, 67, 3u, "beededbe73f44bbac093a5d99572b62ff7b796b7cff92d86acc2c3ae6a0dd5d4", TestName = "Area shrink 3x3 blocks")]
    [TestCase(150, 100, 333, 222, 4u, "08da96a2cd3849bd24bfbb14db2d23e65c6625f301aa88255a5f4a80a7a0063f", TestName = "Area enlarge 150x100 to 333x222")]
    [TestCase(100, 50, 90, 70, 5u, "b9f1f2943fcb3265ee8c050f149eb24052dad2ffee1cab65a8025fd6feaf012c", TestName = "Area shrink x, enlarge y")]
    [TestCase(50, 100, 70, 90, 6u, "09dcd72e0a00da0a10927add843373a3ad43be691a0f25c649e6395283b373f7", TestName = "Area enlarge x, shrink y")]
    [TestCase(37, 23, 16, 9, 7u, "3ef6f3192d92bd12b60bbf9b1ca9efb55cf218a3449e17833fc03001a9acb447", TestName = "Area shrink 37x23 to 16x9")]
    public void AreaResizeMatchesOpenCv(int w, int h, int dw, int dh, uint seed, string sha)
    {
        GreyImage result = AreaResize.Resize(Pattern(w, h, seed), dw, dh);
        Assert.That((result.Width, result.Height), Is.EqualTo((dw, dh)));
        Assert.That(Sha256(result.Pixels), Is.EqualTo(sha));
    }

    // Expected: the reference's resize_img(pattern, size) (dataset/utils.py) with OpenCV 4.6 and NumPy.
    [TestCase(700, 900, 1024, 12u, "79b6916de9534fa97ebb7e7d28a03ccc73f54e8d1a3219d426c10216591844e2", TestName = "resize_img 700x900 enlarged to 1024")]
    [TestCase(1330, 1650, 1024, 13u, "492ed8e6a615a4494f8906711afbcc4aadc0880395ce353da6bd488f0702aedb", TestName = "resize_img tall 1330x1650 to 1024")]
    [TestCase(1650, 1330, 1024, 14u, "884148253e3c221fe09166417cda5a7be1eee59d9628e64e835d9915ed1a5776", TestName = "resize_img wide 1650x1330 to 1024")]
    [TestCase(5, 2, 8, 15u, "10e6da036deb0705cef8dbcd296b7f3060d0ef0d952d9ac03fab7c579daf64c8", TestName = "resize_img 5x2 to 8")]
    public void ResizeToSquareMatchesTheReference(int w, int h, int size, uint seed, string sha)
    {
        GreyImage result = Preprocessing.ResizeToSquare(Pattern(w, h, seed), size);
        Assert.That((result.Width, result.Height), Is.EqualTo((size, size)));
        Assert.That(Sha256(result.Pixels), Is.EqualTo(sha));
    }
}
