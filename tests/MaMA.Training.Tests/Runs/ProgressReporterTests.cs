using MaMA.Training.Runs;

namespace MaMA.Training.Tests.Runs;

public class ProgressReporterTests
{
    [Test]
    public void RedirectedOutputGetsPlainLinesWithEta()
    {
        var text = new StringWriter();
        int result = ProgressReporter.Run("pretrain", total: 20, start: 10, body: p =>
        {
            for (long s = 11; s <= 20; s++) p.Update(s, "loss 1.23", 45.6);
            p.Message("done");
            return 7;
        }, plainEvery: 5, plain: text);
        Assert.That(result, Is.EqualTo(7));
        string[] lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(3));
        Assert.That(lines[0], Does.StartWith("step 15/20  loss 1.23  45.6 img/s  ETA "));
        Assert.That(lines[1], Does.StartWith("step 20/20"));
        Assert.That(lines[2], Is.EqualTo("done"));
    }

    [Test]
    public void EtaFormats()
    {
        Assert.That(ProgressReporter.FormatEta(null), Is.EqualTo("--:--"));
        Assert.That(ProgressReporter.FormatEta(TimeSpan.FromSeconds(75)), Is.EqualTo("01:15"));
        Assert.That(ProgressReporter.FormatEta(TimeSpan.FromSeconds(3725)), Is.EqualTo("1:02:05"));
    }
}
