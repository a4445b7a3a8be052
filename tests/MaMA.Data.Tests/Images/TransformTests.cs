using MaMA.Data.Images;
using MaMA.Data.Images.Transforms;
using static MaMA.Data.Tests.Images.ImageTestUtil;

namespace MaMA.Data.Tests.Images;

/// <summary>
/// The training and evaluation transforms. Expected values of the resize come from Pillow 9.4
/// (<c>Image.resize(..., BILINEAR)</c> on the RGB image, what torchvision runs) and of Otsu from
/// OpenCV 4.6 (<c>cv2.threshold(..., THRESH_BINARY + THRESH_OTSU)</c>).
/// </summary>
[TestFixture]
public sealed class TransformTests
{
    [Test]
    public void OtsuSplitsABimodalImageBetweenItsModes()
    {
        // 120 dark pixels (20..59, three each) and 80 bright ones (180..219, two each), shuffled.
        byte[] values = [.. Enumerable.Range(20, 40).SelectMany(v => Enumerable.Repeat((byte)v, 3)), .. Enumerable.Range(180, 40).SelectMany(v => Enumerable.Repeat((byte)v, 2))];
        new Random(1).Shuffle(values);
        var image = new GreyImage(20, 10, values);
        Assert.That(Otsu.Threshold(image), Is.EqualTo(59)); // OpenCV: every split from 59 to 179 ties; the first wins
        Assert.That(Otsu.Threshold(Pattern(64, 48, 16)), Is.EqualTo(129));
        Assert.That(Otsu.Threshold(new GreyImage(4, 2, [30, 30, 30, 30, 200, 200, 200, 200])), Is.EqualTo(30));
    }

    [Test]
    public void OtsuCropsToTheForegroundBoundingBox()
    {
        var image = new GreyImage(20, 12);
        for (int y = 3; y <= 6; y++)
        for (int x = 5; x <= 9; x++)
            image[x, y] = 200;
        image[15, 10] = 20; // faint: below the threshold, so outside the box
        Assert.That(Otsu.ForegroundBox(image), Is.EqualTo((5, 3, 5, 4)));
        GreyImage cropped = Otsu.Crop(image);
        Assert.That((cropped.Width, cropped.Height), Is.EqualTo((5, 4)));
        Assert.That(cropped.Pixels, Has.All.EqualTo((byte)200));
    }

    [Test]
    public void OtsuWithoutForegroundDoesNotCrop()
    {
        var black = new GreyImage(8, 6);
        Assert.That(Otsu.ForegroundBox(black), Is.Null);
        Assert.That(Otsu.Crop(black), Is.SameAs(black));
        // A constant non-zero image: threshold 0, everything is foreground, nothing to cut.
        var grey = new GreyImage(8, 6, Enumerable.Repeat((byte)7, 48).ToArray());
        Assert.That(Otsu.Threshold(grey), Is.EqualTo(0));
        Assert.That(Otsu.Crop(grey), Is.SameAs(grey));
    }

    [Test]
    public void BilinearResizeMatchesPillowOnSmallImages()
    {
        GreyImage src = new(6, 4, Enumerable.Range(1, 24).Select(v => (byte)(v * 10)).ToArray());
        Assert.That(Rows(BilinearResize.Resize(src, 4, 3)), Is.EqualTo(new[]
        {
            new byte[] { 32, 46, 60, 74 },
            [104, 118, 132, 146],
            [176, 190, 204, 218],
        }));
        Assert.That(Rows(BilinearResize.Resize(src, 9, 5)), Is.EqualTo(new[]
        {
            new byte[] { 10, 15, 22, 28, 35, 42, 48, 55, 60 },
            [52, 57, 64, 70, 77, 84, 90, 97, 102],
            [100, 105, 112, 118, 125, 132, 138, 145, 150],
            [148, 153, 160, 166, 173, 180, 186, 193, 198],
            [190, 195, 202, 208, 215, 222, 228, 235, 240],
        }));
        // Antialiased halving of [10 21 30 40] uses three taps (3/7, 3/7, 1/7); plain bilinear averages two.
        Assert.That(BilinearResize.Resize(Image(4, 10, 21, 30, 40), 2, 1).Pixels, Is.EqualTo(new byte[] { 18, 33 }));
        Assert.That(BilinearResize.Resize(Image(4, 10, 21, 30, 40), 2, 1, antialias: false).Pixels, Is.EqualTo(new byte[] { 16, 35 }));
    }

    // Expected: hashlib.sha256(np.array(Image.fromarray(pattern).convert("RGB").resize((dw, dh), Image.BILINEAR))[:, :, 0].tobytes()), Pillow 9.4.
    [TestCase(700, 900, 8u, "65806b75f352dd01ffe5968116a82cbe689963d476eee9031bae86fd5de97b76", TestName = "Pillow bilinear 700x900 to 518")]
    [TestCase(300, 250, 9u, "07e8c48c8dc29ca897e78591938b16aa6e4f7838cdf8f396d3f132cc1a20e48c", TestName = "Pillow bilinear 300x250 to 518")]
    [TestCase(123, 77, 10u, "29241a144bf6d46870b0a16117d1479397429f00494cd0bf768fc854046aab56", TestName = "Pillow bilinear 123x77 to 518")]
    [TestCase(1024, 1024, 11u, "5a8bc5f03ead0576b8a5ada5dd62aa2a768136da35afe99a215fcde5f48d4ac5", TestName = "Pillow bilinear 1024 to 518")]
    public void BilinearResizeMatchesPillow(int w, int h, uint seed, string sha)
    {
        Assert.That(Sha256(BilinearResize.Resize(Pattern(w, h, seed), 518, 518).Pixels), Is.EqualTo(sha));
    }

    [Test]
    public void RandomResizedCropIsDeterministicForASeed()
    {
        var crop = new RandomResizedCrop(518);
        GreyImage image = Pattern(518, 518, 21);
        GreyImage a = crop.Apply(image, new Random(42)), b = crop.Apply(image, new Random(42)), c = crop.Apply(image, new Random(43));
        Assert.That((a.Width, a.Height), Is.EqualTo((518, 518)));
        Assert.That(a.Pixels, Is.EqualTo(b.Pixels));
        Assert.That(a.Pixels, Is.Not.EqualTo(c.Pixels));
        var r1 = new Random(5);
        var r2 = new Random(5);
        for (int i = 0; i < 50; i++) Assert.That(crop.GetParams(518, 518, r1), Is.EqualTo(crop.GetParams(518, 518, r2)));
    }

    [Test]
    public void RandomResizedCropStaysInsideItsRanges()
    {
        var crop = new RandomResizedCrop(518);
        var rng = new Random(9);
        double minFraction = 1, maxFraction = 0, minRatio = 10, maxRatio = 0;
        for (int i = 0; i < 5000; i++)
        {
            CropBox box = crop.GetParams(518, 518, rng);
            Assert.That(box.Top, Is.InRange(0, 518 - box.Height));
            Assert.That(box.Left, Is.InRange(0, 518 - box.Width));
            Assert.That(box.Width, Is.InRange(1, 518));
            Assert.That(box.Height, Is.InRange(1, 518));
            double fraction = box.Width * (double)box.Height / (518 * 518);
            double ratio = box.Width / (double)box.Height;
            minFraction = Math.Min(minFraction, fraction);
            maxFraction = Math.Max(maxFraction, fraction);
            minRatio = Math.Min(minRatio, ratio);
            maxRatio = Math.Max(maxRatio, ratio);
        }
        // Rounding w and h to whole pixels moves area and ratio a little past the nominal bounds.
        Assert.That(minFraction, Is.InRange(0.075, 0.10));
        Assert.That(maxFraction, Is.InRange(0.95, 1.0));
        Assert.That(minRatio, Is.InRange(0.74, 0.77));
        Assert.That(maxRatio, Is.InRange(1.30, 1.345));
    }

    [Test]
    public void RandomResizedCropFallsBackToACentreCrop()
    {
        var crop = new RandomResizedCrop(518);
        // Far too wide for any crop with ratio <= 4/3 to fit its height: centre crop of height 10, width round(10 * 4/3) = 13.
        Assert.That(crop.GetParams(1000, 10, new Random(1)), Is.EqualTo(new CropBox(0, 493, 10, 13)));
        // Far too tall: width 10, height round(10 / (3/4)) = 13.
        Assert.That(crop.GetParams(10, 1000, new Random(1)), Is.EqualTo(new CropBox(493, 0, 13, 10)));
        // Scale fixed at 1 and ratio fixed at 1 on a square: the whole image.
        Assert.That(new RandomResizedCrop(8, 1, 1, 1, 1).GetParams(20, 20, new Random(3)), Is.EqualTo(new CropBox(0, 0, 20, 20)));
    }

    [Test]
    public void CenterCropRoundsLikeTorchvisionAndPads()
    {
        GreyImage image = Pattern(10, 8, 2);
        Assert.That(CenterCrop.Apply(image, 4, 4).Pixels, Is.EqualTo(image.Crop(3, 2, 4, 4).Pixels));
        GreyImage odd = Pattern(9, 7, 2);
        // (9 - 4) / 2 = 2.5 and (7 - 4) / 2 = 1.5 round half to even: 2 and 2.
        Assert.That(CenterCrop.Apply(odd, 4, 4).Pixels, Is.EqualTo(odd.Crop(2, 2, 4, 4).Pixels));
        GreyImage padded = CenterCrop.Apply(Image(2, 1, 2, 3, 4), 4, 4);
        Assert.That(Rows(padded), Is.EqualTo(new[] { new byte[4], new byte[] { 0, 1, 2, 0 }, [0, 3, 4, 0], new byte[4] }));
        Assert.That(CenterCrop.Apply(image, 10, 8), Is.SameAs(image));
    }

    [Test]
    public void NormalisationGivesMinusOneToOneInThreeIdenticalChannels()
    {
        float[] t = TensorConversion.ToChw3(Image(3, 0, 128, 255));
        float mid = (128f / 255f - 0.5f) / 0.5f;
        Assert.That(t, Is.EqualTo(new[] { -1f, mid, 1f, -1f, mid, 1f, -1f, mid, 1f }));
        Assert.That(mid, Is.EqualTo(0.0039215f).Within(1e-6f));
        // CHW: channel planes one after another.
        float[] chw = TensorConversion.ToChw3(new GreyImage(2, 2, [0, 51, 102, 255]));
        Assert.That(chw[..4], Is.EqualTo(chw[4..8]));
        Assert.That(chw[..4], Is.EqualTo(chw[8..]));
        Assert.That(chw[1], Is.EqualTo((51f / 255f - 0.5f) / 0.5f));
        // Other statistics and a batch slot.
        var slot = new float[3 * 4 + 2];
        TensorConversion.ToChw3(new GreyImage(2, 2, [0, 51, 102, 255]), slot.AsSpan(1), mean: 0.25f, std: 0.5f);
        Assert.That(slot[0], Is.EqualTo(0));
        Assert.That(slot[1], Is.EqualTo(-0.5f));
        Assert.That(slot[^1], Is.EqualTo(0));
    }

    [Test]
    public void MammoTransformShapesAndDeterminism()
    {
        // A bright "breast" in the left part of a dark, padded frame.
        var image = new GreyImage(300, 400);
        for (int y = 50; y < 350; y++)
        for (int x = 0; x < 150; x++)
            if ((x * x) / (150.0 * 150) + ((y - 200) * (y - 200)) / (150.0 * 150) < 1) image[x, y] = (byte)(120 + (x + y) % 100);
        var transform = new MammoTransform();
        Assert.That(transform.OutputLength, Is.EqualTo(3 * 518 * 518));
        float[] eval1 = transform.Eval(image), eval2 = transform.Eval(image);
        Assert.That(eval1, Has.Length.EqualTo(3 * 518 * 518));
        Assert.That(eval1, Is.EqualTo(eval2));
        Assert.That(eval1, Has.All.InRange(-1f, 1f));
        // The Otsu crop removed the background: the breast fills most of the output.
        GreyImage evalImage = transform.EvalImage(image);
        Assert.That(evalImage.Pixels.Count(p => p > 100) / (double)evalImage.Pixels.Length, Is.GreaterThan(0.6));

        float[] train1 = transform.Train(image, new Random(11)), train2 = transform.Train(image, new Random(11));
        Assert.That(train1, Is.EqualTo(train2));
        Assert.That(train1, Is.Not.EqualTo(transform.Train(image, new Random(12))));
        var slot = new float[transform.OutputLength];
        transform.Train(image, new Random(11), slot);
        Assert.That(slot, Is.EqualTo(train1));

        var noLoaderResize = new MammoTransform(new MammoTransformOptions { LoaderResize = false, ImageSize = 64, CropSize = 56 });
        Assert.That(noLoaderResize.Eval(image), Has.Length.EqualTo(3 * 56 * 56));
        Assert.That((noLoaderResize.Base(image).Width, noLoaderResize.Base(image).Height), Is.EqualTo((64, 64)));
    }
}
