using MaMA.Data.Images;
using MaMA.Reliability.Tests.Corpus;
using MaMA.Reliability.Tests.Support;

namespace MaMA.Reliability.Tests;

/// <summary>
/// Every bad PNG, JPEG and DICOM of the corpus ends in an <see cref="ImageReadException"/> naming the
/// file and the reason, within the time limit, without allocating for the size it claims; and
/// <c>mama prepare</c> over a folder of them counts each as failed and writes no partial output.
/// </summary>
public sealed class ImageCorpusTests
{
    private static IEnumerable<ImageCorpus.Case> PngCases => ImageCorpus.Png();
    private static IEnumerable<ImageCorpus.Case> JpegCases => ImageCorpus.Jpeg();
    private static IEnumerable<DicomCorpus.Case> DicomCases => DicomCorpus.All();

    [TestCaseSource(nameof(PngCases))]
    public void Png(ImageCorpus.Case c) => CheckImage(c.Name, c.Bytes, c.Reason, c.Options);

    [TestCaseSource(nameof(JpegCases))]
    public void Jpeg(ImageCorpus.Case c) => CheckImage(c.Name, c.Bytes, c.Reason, c.Options);

    [TestCaseSource(nameof(DicomCases))]
    public void Dicom(DicomCorpus.Case c) => CheckImage(c.Name, c.Bytes, c.Reason, null);

    [Test]
    public void ValidFilesOfEachFormatStillRead()
    {
        Assert.That(ImageReader.Read(PngBuilder.Grey(16, 12), "ok.png").Width, Is.EqualTo(16));
        Assert.That(ImageReader.Read(ImageCorpus.ValidJpeg(), "ok.jpg").Height, Is.EqualTo(24));
        Assert.That(ImageReader.Read(DicomCorpus.Valid(), "ok.dcm").Width, Is.EqualTo(3));
        Assert.That(ImageReader.Read(DicomCorpus.Valid(explicitVr: false), "ok.dcm").Height, Is.EqualTo(4));
    }

    [Test]
    public void RaisedPixelLimitLetsALargeImageThrough()
    {
        // 12 megapixels: refused at a 10 MP limit, read at the default.
        byte[] png = PngBuilder.Grey(4_000, 3_000);
        Outcome refused = Bounded.Run(() => ImageReader.Read(png, "big.png", new ImageReadOptions { MaxPixels = 10_000_000 }));
        Expect.Error<ImageReadException>(refused, "over the limit of 10,000,000 pixels");
        Assert.That(ImageReader.Read(png, "big.png").Width, Is.EqualTo(4_000));
    }

    [Test]
    public void PrepareCountsEveryBadFileAndWritesNothingForThem()
    {
        using var input = new TempFolder("prep-in");
        using var output = new TempFolder("prep-out");
        var cases = PngCases.Select(c => (c.Name + ".png", c.Bytes))
            .Concat(JpegCases.Select(c => (c.Name + ".jpg", c.Bytes)))
            .Concat(DicomCases.Select(c => (c.Name + ".dcm", c.Bytes)))
            .Where(c => !c.Item1.StartsWith("png-bomb-under-lowered-limit", StringComparison.Ordinal)) // needs its own limit
            .ToList();
        foreach ((string name, byte[] bytes) in cases) input.File(name, bytes);
        input.File("good.png", PngBuilder.Grey(20, 10));

        var log = new StringWriter();
        PrepareSummary summary = PrepareFolder.Run(new PrepareOptions { InputDir = input.Path, OutputDir = output.Path, Workers = 2, Size = 32 }, log);

        Assert.That(summary.Failed, Is.EqualTo(cases.Count), log.ToString());
        Assert.That(summary.Written, Is.EqualTo(1));
        string[] left = output.Listing();
        Assert.That(left, Is.EquivalentTo(new[] { "good.png", PrepareFolder.FailuresFile }), "only the good output and the failure list");
    }

    private static void CheckImage(string name, byte[] bytes, string reason, ImageReadOptions? options)
    {
        Outcome o = Bounded.Run(() => ImageReader.Read(bytes, name, options));
        ImageReadException e = Expect.Error<ImageReadException>(o, reason);
        Assert.That(e.Message, Does.StartWith(name + ": "), "the message names the file");
        TestContext.Out.WriteLine($"{name}: {e.Reason} ({o.Elapsed.TotalMilliseconds:F1} ms, {o.AllocatedBytes:N0} B)");
    }
}
