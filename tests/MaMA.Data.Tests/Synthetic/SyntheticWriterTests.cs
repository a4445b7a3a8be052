using System.Diagnostics;
using MaMA.Data.Synthetic;

namespace MaMA.Data.Tests.Synthetic;

/// <summary>Determinism, sizes, refusing to overwrite, progress, speed, and the <c>mama synth</c> command.</summary>
[TestFixture]
public sealed class SyntheticWriterTests
{
    private static Dictionary<string, byte[]> ReadAll(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f).Replace('\\', '/'), File.ReadAllBytes);

    [Test]
    public void SameSeedGivesIdenticalBytesAndOtherSeedsDiffer()
    {
        string a = SynthTestData.NewTempDir("a"), b = SynthTestData.NewTempDir("b"), c = SynthTestData.NewTempDir("c");
        var options = new SynthOptions { Studies = 6, Seed = 5, Width = 128, Height = 160 };
        SyntheticEmbed.Write(a, options);
        SyntheticEmbed.Write(b, options with { Threads = 1 });
        SyntheticEmbed.Write(c, options with { Seed = 6 });
        var filesA = ReadAll(a);
        var filesB = ReadAll(b);
        Assert.That(filesB.Keys.Order(), Is.EqualTo(filesA.Keys.Order()));
        foreach (var (name, bytes) in filesA) Assert.That(filesB[name], Is.EqualTo(bytes), name);

        var filesC = ReadAll(c);
        Assert.That(filesC[DatasetLayout.MetadataCsv], Is.Not.EqualTo(filesA[DatasetLayout.MetadataCsv]));
        Assert.That(filesC[DatasetLayout.ClinicalCsv], Is.Not.EqualTo(filesA[DatasetLayout.ClinicalCsv]));
        var pngA = filesA.Where(p => p.Key.EndsWith(".png", StringComparison.Ordinal)).Select(p => Convert.ToHexString(p.Value)).ToHashSet();
        var pngC = filesC.Where(p => p.Key.EndsWith(".png", StringComparison.Ordinal)).Select(p => Convert.ToHexString(p.Value)).ToList();
        Assert.That(pngC.Count(pngA.Contains), Is.Zero, "no image repeats under another seed");
        // The legend is fixed: identical for every seed.
        Assert.That(filesC[DatasetLayout.LegendCsv], Is.EqualTo(filesA[DatasetLayout.LegendCsv]));
    }

    [Test]
    public void ImagesAre8BitGreyOfTheRequestedSize()
    {
        string dir = SynthTestData.NewTempDir("size");
        var summary = SyntheticEmbed.Write(dir, new SynthOptions { Studies = 1, Seed = 3, Width = 96, Height = 128 });
        Assert.That(summary.Images.Count(i => i.ImageType == "2D"), Is.EqualTo(4));
        foreach (var i in summary.Images)
        {
            string path = Path.Combine(dir, i.RelativePath);
            var info = SixLabors.ImageSharp.Image.Identify(path);
            Assert.That((info.Width, info.Height), Is.EqualTo((96, 128)));
            Assert.That(info.PixelType.BitsPerPixel, Is.EqualTo(8), "8-bit grey");
            byte[] head = File.ReadAllBytes(path)[..26];
            Assert.That(head[25], Is.EqualTo(0), "PNG colour type 0 (greyscale)");
            Assert.That(head[24], Is.EqualTo(8), "bit depth 8");
        }
    }

    [Test]
    public void RefusesANonEmptyFolderUnlessForced()
    {
        string dir = SynthTestData.NewTempDir("force");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "keep.txt"), "mine");
        var options = new SynthOptions { Studies = 1, Seed = 1, Width = 64, Height = 80 };
        var e = Assert.Throws<IOException>(() => SyntheticEmbed.Write(dir, options));
        Assert.That(e!.Message, Does.Contain("not empty").And.Contain("--force"));
        Assert.That(Directory.EnumerateFileSystemEntries(dir).Count(), Is.EqualTo(1), "nothing written");
        SyntheticEmbed.Write(dir, options with { Force = true });
        Assert.That(File.ReadAllText(Path.Combine(dir, "keep.txt")), Is.EqualTo("mine"), "other files are left alone");
        Assert.That(File.Exists(Path.Combine(dir, DatasetLayout.MetadataCsv)));
    }

    [TestCase(0, 256, 320)]
    [TestCase(5, 32, 320)]
    [TestCase(5, 256, 5000)]
    public void RejectsBadOptions(int studies, int width, int height)
    {
        string dir = SynthTestData.NewTempDir("bad");
        Assert.Throws<ArgumentException>(() => SyntheticEmbed.Write(dir, new SynthOptions { Studies = studies, Width = width, Height = height }));
        Assert.That(Directory.Exists(dir), Is.False, "nothing created");
    }

    [Test]
    public void TwentyStudiesTakeAFewSecondsAndReportProgress()
    {
        string dir = SynthTestData.NewTempDir("speed");
        var seen = new List<(int Done, int Total)>();
        var watch = Stopwatch.StartNew();
        var summary = SyntheticEmbed.Write(dir, new SynthOptions { Studies = 20, Seed = 2, Progress = (d, t) => seen.Add((d, t)) });
        watch.Stop();
        TestContext.Out.WriteLine($"20 studies, {summary.Images.Count} images: {watch.Elapsed.TotalSeconds:F2} s on {Environment.ProcessorCount} processors");
        Assert.That(summary.Studies, Is.EqualTo(20));
        Assert.That(seen, Is.Not.Empty);
        Assert.That(seen.Select(s => s.Done), Is.Ordered.Ascending);
        Assert.That(seen[^1], Is.EqualTo((summary.Images.Count, summary.Images.Count)));
        // Generous: a few seconds on a developer machine, far less than this even on a loaded CI runner.
        Assert.That(watch.Elapsed.TotalSeconds, Is.LessThan(60));
    }

    [Test]
    public void SynthCommandWritesTheFolderAndRejectsMistakes()
    {
        string dir = SynthTestData.NewTempDir("cli");
        Assert.That(MaMA.Cli.Cli.Run(["synth", "--out", dir, "--studies", "2", "--seed", "4", "--size", "96x120"]), Is.EqualTo(0));
        var meta = SynthTestData.ReadTable(Path.Combine(dir, DatasetLayout.MetadataCsv));
        Assert.That(meta.Count(r => r["FinalImageType"] == "2D"), Is.EqualTo(8));
        Assert.That(meta[0]["Columns"], Is.EqualTo("96"));

        Assert.That(MaMA.Cli.Cli.Run(["synth", "--out", dir, "--studies", "2"]), Is.EqualTo(2), "non-empty folder without --force");
        Assert.That(MaMA.Cli.Cli.Run(["synth", "--out", dir, "--studies", "2", "--seed", "4", "--size", "96x120", "--force"]), Is.EqualTo(0));
        Assert.That(MaMA.Cli.Cli.Run(["synth", "--studies", "2"]), Is.EqualTo(2), "missing --out");
        Assert.That(MaMA.Cli.Cli.Run(["synth", "--out", SynthTestData.NewTempDir("x"), "--size", "big"]), Is.EqualTo(2));
        Assert.That(MaMA.Cli.Cli.Run(["synth", "--out", SynthTestData.NewTempDir("y"), "--studies", "0"]), Is.EqualTo(2));
        Assert.That(MaMA.Cli.Cli.Run(["synth", "--out", SynthTestData.NewTempDir("z"), "--studeis", "3"]), Is.EqualTo(2), "unknown option");
        Assert.That(MaMA.Cli.Commands.SynthCommand.ParseSize("200"), Is.EqualTo((200, 250)));
        Assert.That(MaMA.Cli.Commands.SynthCommand.ParseSize("300x400"), Is.EqualTo((300, 400)));
    }
}
