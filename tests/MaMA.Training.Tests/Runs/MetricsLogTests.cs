using MaMA.Training.Runs;

namespace MaMA.Training.Tests.Runs;

public class MetricsLogTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestPaths.NewScratch("metrics");

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void AppendsOneJsonObjectPerLine()
    {
        string path = Path.Combine(_dir, "metrics.jsonl");
        using (var log = new MetricsLog(path, null))
        {
            log.Append(1, "train", [new("loss", 2.5), new("lr", 1e-4)]);
            log.Append(2, "eval", [new("loss", double.NaN)]);
        }
        string[] lines = File.ReadAllLines(path);
        Assert.That(lines[0], Is.EqualTo("{\"step\":1,\"kind\":\"train\",\"loss\":2.5,\"lr\":0.0001}"));
        Assert.That(lines[1], Is.EqualTo("{\"step\":2,\"kind\":\"eval\",\"loss\":null}"));
        IReadOnlyList<MetricsLine> read = MetricsLog.Read(path);
        Assert.That(read[0]["loss"], Is.EqualTo(2.5));
        Assert.That(read[1]["loss"], Is.NaN);
        Assert.That(read[1].Kind, Is.EqualTo("eval"));
    }

    [Test]
    public void LinesAreOnDiskBeforeDispose()
    {
        string path = Path.Combine(_dir, "metrics.jsonl");
        using var log = new MetricsLog(path, null);
        log.Append(1, "train", [new("loss", 1.0)]);
        Assert.That(MetricsLog.Read(path), Has.Count.EqualTo(1));
    }

    [Test]
    public void ResumeDropsLinesAfterTheCheckpointAndTornLines()
    {
        string path = Path.Combine(_dir, "metrics.jsonl");
        using (var log = new MetricsLog(path, null))
            for (int s = 5; s <= 30; s += 5) log.Append(s, "train", [new("loss", s)]);
        File.AppendAllText(path, "{\"step\":35,\"kind\":\"tr");
        using (var log = new MetricsLog(path, resumeStep: 20))
            log.Append(25, "train", [new("loss", -1)]);
        IReadOnlyList<MetricsLine> read = MetricsLog.Read(path);
        Assert.That(read.Select(l => l.Step), Is.EqualTo(new long[] { 5, 10, 15, 20, 25 }));
        Assert.That(read[^1]["loss"], Is.EqualTo(-1));
    }

    [Test]
    public void ResumeNeverRewritesTheOldLogInPlace()
    {
        // A kill between truncating the log and writing its kept lines back would lose them all. The
        // trimmed log is written beside the old one and renamed over it, so a handle opened before the
        // resume still reads the whole old file.
        string path = Path.Combine(_dir, "metrics.jsonl");
        using (var log = new MetricsLog(path, null))
            for (int s = 5; s <= 30; s += 5) log.Append(s, "train", [new("loss", s)]);
        File.WriteAllText(path + ".tmp", "left by a resume that was killed");
        using var before = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using (var log = new MetricsLog(path, resumeStep: 10))
            log.Append(15, "train", [new("loss", -1)]);
        using var reader = new StreamReader(before);
        Assert.That(reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(6));
        Assert.That(MetricsLog.Read(path).Select(l => l.Step), Is.EqualTo(new long[] { 5, 10, 15 }));
        Assert.That(File.Exists(path + ".tmp"), Is.False);
    }

    [Test]
    public void AFreshLogReplacesAnOldFile()
    {
        string path = Path.Combine(_dir, "metrics.jsonl");
        File.WriteAllText(path, "{\"step\":1,\"kind\":\"train\"}\n");
        using (new MetricsLog(path, null))
        {
        }
        Assert.That(MetricsLog.Read(path), Is.Empty);
    }
}
