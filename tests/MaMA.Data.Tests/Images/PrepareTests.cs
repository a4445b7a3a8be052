using MaMA.Cli;
using MaMA.Cli.Commands;
using MaMA.Data.Images;

namespace MaMA.Data.Tests.Images;

[TestFixture]
public sealed class PrepareTests
{
    private string _root = "";
    private string _in = "";
    private string _out = "";

    [SetUp]
    public void SetUp()
    {
        _root = ImageTestUtil.NewTempDir();
        _in = Path.Combine(_root, "in");
        _out = Path.Combine(_root, "out");
        Directory.CreateDirectory(Path.Combine(_in, "p1", "s1"));
        Directory.CreateDirectory(Path.Combine(_in, "p2"));

        int[] values = Enumerable.Range(0, 60 * 40).Select(i => i % 4096).ToArray();
        DicomWriter.Write(Path.Combine(_in, "p1", "s1", "a.dcm"), 60, 40, values, new DicomWriteOptions { Photometric = Photometric.Monochrome1, BitsStored = 12 });
        DicomWriter.Write(Path.Combine(_in, "p1", "s1", "b.DCM"), 30, 50, values[..1500], new DicomWriteOptions { ExplicitVr = false });
        ImageWriter.SavePng(ImageTestUtil.Pattern(20, 30, 3), Path.Combine(_in, "p2", "c.png"));
        ImageWriter.SaveJpeg(ImageTestUtil.Pattern(40, 20, 4), Path.Combine(_in, "p2", "d.jpeg"));
        ImageWriter.SavePng16(3, 2, [0, 1000, 2000, 3000, 4000, 65535], Path.Combine(_in, "e.png"));
        File.WriteAllText(Path.Combine(_in, "notes.txt"), "not an image");

        // Unreadable: a compressed transfer syntax, a truncated PNG, and two inputs with the same output name.
        byte[] jpegSyntax = ImageTestUtil.Part10(DicomTransferSyntax.JpegBaseline, true, w => w.UShort(0x0028, 0x0010, 4).UShort(0x0028, 0x0011, 4));
        File.WriteAllBytes(Path.Combine(_in, "p2", "jpeg.dcm"), jpegSyntax);
        byte[] png = ImageWriter.EncodePng(ImageTestUtil.Pattern(30, 30, 5));
        File.WriteAllBytes(Path.Combine(_in, "p2", "cut.png"), png[..(png.Length / 2)]);
        DicomWriter.Write(Path.Combine(_in, "twin.dcm"), 2, 2, [1, 2, 3, 4]);
        ImageWriter.SavePng(new GreyImage(2, 2), Path.Combine(_in, "twin.png"));
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    private PrepareSummary Run(StringWriter log) =>
        PrepareFolder.Run(new PrepareOptions { InputDir = _in, OutputDir = _out, Size = 32, Workers = 2 }, log);

    private static readonly string[] Good = ["p1/s1/a.png", "p1/s1/b.png", "p2/c.png", "p2/d.png", "e.png", "twin.png"];

    [Test]
    public void ConvertsReportsAndResumes()
    {
        var log = new StringWriter();
        PrepareSummary first = Run(log);
        string text = log.ToString();
        Assert.Multiple(() =>
        {
            Assert.That(first.Inputs, Is.EqualTo(9));
            Assert.That(first.Written, Is.EqualTo(6));
            Assert.That(first.Skipped, Is.EqualTo(0));
            Assert.That(first.Failed, Is.EqualTo(3));
            Assert.That(first.Failures.Select(f => Path.GetFileName(f.Path)), Is.EquivalentTo(new[] { "jpeg.dcm", "cut.png", "twin.png" }));
            Assert.That(text, Does.Contain("jpeg.dcm: DICOM: transfer syntax 1.2.840.10008.1.2.4.50 (JPEG Baseline (Process 1)) is not supported"));
            Assert.That(text, Does.Contain("cut.png: PNG is truncated"));
            Assert.That(text, Does.Contain("twin.png: its output").And.Contain("twin.dcm"));
            Assert.That(text, Does.Contain("prepare: 9/9 (100.0%)  written 6  skipped 0  failed 3"));
            Assert.That(text, Does.Contain("img/s"));
            Assert.That(text, Does.Contain("9 input(s)").And.Contain("6 written, 0 already prepared (skipped), 3 failed"));
        });
        foreach (string rel in Good)
        {
            string output = Path.Combine(_out, rel);
            Assert.That(File.Exists(output), rel);
            GreyImage image = ImageReader.ReadGrey8(output);
            Assert.That((image.Width, image.Height), Is.EqualTo((32, 32)), rel);
        }
        Assert.That(File.ReadAllLines(Path.Combine(_out, PrepareFolder.FailuresFile)), Has.Length.EqualTo(3));
        Assert.That(Directory.GetFiles(_out, "*", SearchOption.AllDirectories).Where(f => f.EndsWith(".png", StringComparison.Ordinal)).ToArray(), Has.Length.EqualTo(6));

        // Outputs are exactly the preprocessing of their inputs.
        GreyImage expected = Preprocessing.Prepare(ImageReader.Read(Path.Combine(_in, "p1", "s1", "a.dcm")), 32);
        Assert.That(ImageReader.ReadGrey8(Path.Combine(_out, "p1", "s1", "a.png")).Pixels, Is.EqualTo(expected.Pixels));
        GreyImage e = ImageReader.ReadGrey8(Path.Combine(_out, "e.png"));
        Assert.That(e.Pixels.Max(), Is.EqualTo(255));

        // Second run: everything good is skipped and nothing is rewritten.
        DateTime stamp = File.GetLastWriteTimeUtc(Path.Combine(_out, "p2", "c.png"));
        PrepareSummary second = Run(new StringWriter());
        Assert.That((second.Written, second.Skipped, second.Failed), Is.EqualTo((0, 6, 3)));
        Assert.That(File.GetLastWriteTimeUtc(Path.Combine(_out, "p2", "c.png")), Is.EqualTo(stamp));

        // A killed run: one output missing, one cut short, a stale temporary file.
        File.Delete(Path.Combine(_out, "p2", "c.png"));
        byte[] full = File.ReadAllBytes(Path.Combine(_out, "e.png"));
        File.WriteAllBytes(Path.Combine(_out, "e.png"), full[..(full.Length - 5)]);
        string stale = Path.Combine(_out, "p2", "d.png.0badf00d" + AtomicFile.TempSuffix);
        File.WriteAllBytes(stale, [1, 2, 3]);
        PrepareSummary third = Run(new StringWriter());
        Assert.That((third.Written, third.Skipped, third.Failed), Is.EqualTo((2, 4, 3)));
        Assert.That(File.Exists(stale), Is.False);
        Assert.That(File.ReadAllBytes(Path.Combine(_out, "e.png")), Is.EqualTo(full));
    }

    [Test]
    public void AnOutputThatCannotBeWrittenStopsTheRun()
    {
        Directory.CreateDirectory(Path.Combine(_out, "e.png")); // a folder where the file should go
        var e = Assert.Throws<IOException>(() => Run(new StringWriter()))!;
        Assert.That(e.Message, Does.StartWith("prepare stopped: cannot write an output"));
        Assert.That(Directory.GetFiles(_out, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories), Is.Empty);
        Assert.That(MaMA.Cli.Cli.Run(["prepare", "--in", _in, "--out", _out, "--size", "32"]), Is.EqualTo(1));
    }

    [Test]
    public void NoPadKeepsTheAspectRatio()
    {
        PrepareFolder.Run(new PrepareOptions { InputDir = _in, OutputDir = _out, Size = 32, Pad = false, Workers = 1 }, new StringWriter());
        GreyImage d = ImageReader.ReadGrey8(Path.Combine(_out, "p2", "d.png"));
        Assert.That((d.Width, d.Height), Is.EqualTo((32, 16)));
    }

    [Test]
    public void OutputInsideTheInputIsNotReadBack()
    {
        string inner = Path.Combine(_in, "prepared");
        PrepareSummary first = PrepareFolder.Run(new PrepareOptions { InputDir = _in, OutputDir = inner, Size = 16 }, new StringWriter());
        PrepareSummary second = PrepareFolder.Run(new PrepareOptions { InputDir = _in, OutputDir = inner, Size = 16 }, new StringWriter());
        Assert.That(second.Inputs, Is.EqualTo(first.Inputs));
        Assert.That(second.Skipped, Is.EqualTo(first.Written));
    }

    [Test]
    public void AnOutputFolderHoldingTheInputFolderConvertsEverything()
    {
        // "Put the PNGs in the dataset folder": out = the input's parent. Only an output inside the
        // input is left out of the inputs; this one once excluded every input (0 converted, success).
        PrepareSummary summary = PrepareFolder.Run(new PrepareOptions { InputDir = _in, OutputDir = _root, Size = 16 }, new StringWriter());
        Assert.That(summary.Inputs, Is.EqualTo(9));
        Assert.That(summary.Written, Is.EqualTo(6));
        Assert.That(File.Exists(Path.Combine(_root, "p2", "c.png")), Is.True);
    }

    [Test]
    public void NamesThatDifferInCaseAreTwoOutputsWhereTheFileSystemSaysSo()
    {
        string dir = Path.Combine(_root, "cased");
        Directory.CreateDirectory(dir);
        ImageWriter.SavePng(ImageTestUtil.Pattern(8, 8, 1), Path.Combine(dir, "X.png"));
        ImageWriter.SavePng(ImageTestUtil.Pattern(8, 8, 2), Path.Combine(dir, "x.png"));
        if (Directory.GetFiles(dir).Length == 1)
            Assert.Ignore("this file system ignores case: X.png and x.png are one file here");
        PrepareSummary summary = PrepareFolder.Run(new PrepareOptions { InputDir = dir, OutputDir = Path.Combine(_root, "cased-out"), Size = 8 }, new StringWriter());
        Assert.That((summary.Written, summary.Failed), Is.EqualTo((2, 0)));
    }

    [Test]
    public void CommandLine()
    {
        var log = new StringWriter();
        int code = PrepareCommand.Run(new CommandLine(["--in", _in, "--out", _out, "--size", "24", "--workers", "3"]), log);
        Assert.That(code, Is.EqualTo(0));
        Assert.That(ImageReader.ReadGrey8(Path.Combine(_out, "e.png")).Width, Is.EqualTo(24));
        Assert.That(log.ToString(), Does.Contain("6 written"));

        Assert.Throws<UsageException>(() => PrepareCommand.Run(new CommandLine(["--out", _out]), log));
        Assert.Throws<UsageException>(() => PrepareCommand.Run(new CommandLine(["--in", Path.Combine(_root, "nope"), "--out", _out]), log));
        Assert.Throws<UsageException>(() => PrepareCommand.Run(new CommandLine(["--in", _in, "--out", _out, "--size", "abc"]), log));
        Assert.Throws<UsageException>(() => PrepareCommand.Run(new CommandLine(["--in", _in, "--out", _out, "--workers", "0"]), log));
        Assert.Throws<UsageException>(() => PrepareCommand.Run(new CommandLine(["--in", _in, "--out", _in]), log));
        Assert.Throws<UsageException>(() => PrepareCommand.Run(new CommandLine(["--in", _in, "--out", _out, "--sise", "5"]), log));
        Assert.That(MaMA.Cli.Cli.Run(["prepare", "--out", _out]), Is.EqualTo(2));
        Assert.That(MaMA.Cli.Cli.Run(["prepare", "--in", _in, "--out", _out, "--size", "24", "--max-megapixels", "1"]), Is.EqualTo(0));
    }
}
