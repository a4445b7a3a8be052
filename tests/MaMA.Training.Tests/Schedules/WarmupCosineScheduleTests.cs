using MaMA.Training.Schedules;

namespace MaMA.Training.Tests.Schedules;

public class WarmupCosineScheduleTests
{
    // Values of the published CosineAnnealingWarmupRestarts (first_cycle_steps 40000, warm-up 4000,
    // max 4e-5, min 1e-8) written out by its formula.
    [TestCase(0, 1e-8)]
    [TestCase(1, 1e-8 + (4e-5 - 1e-8) / 4000)]
    [TestCase(2000, 1e-8 + (4e-5 - 1e-8) * 0.5)]
    [TestCase(4000, 4e-5)]
    [TestCase(22000, 1e-8 + (4e-5 - 1e-8) * 0.5)]
    [TestCase(40000, 1e-8)]
    [TestCase(50000, 1e-8)]
    public void PaperSchedule(long step, double expected)
    {
        var s = new WarmupCosineSchedule(4e-5, 1e-8, 4000, 40000);
        Assert.That(s.At(step), Is.EqualTo(expected).Within(1e-12 + 1e-9 * expected));
    }

    [Test]
    public void LastStepIsJustAboveTheFloor()
    {
        var s = new WarmupCosineSchedule(4e-5, 1e-8, 4000, 40000);
        double expected = 1e-8 + (4e-5 - 1e-8) * 0.5 * (1 + Math.Cos(Math.PI * 35999 / 36000));
        Assert.That(s.At(39999), Is.EqualTo(expected).Within(1e-20));
        Assert.That(s.At(39999), Is.GreaterThan(1e-8));
    }

    [Test]
    public void RisesThroughTheWarmUpThenFallsToTheFloor()
    {
        var s = new WarmupCosineSchedule(5e-4, 1e-5, 100, 8000);
        for (long t = 1; t <= 100; t++) Assert.That(s.At(t), Is.GreaterThan(s.At(t - 1)));
        for (long t = 101; t < 8000; t++) Assert.That(s.At(t), Is.LessThan(s.At(t - 1)));
        Assert.That(s.At(7999), Is.GreaterThan(1e-5));
        Assert.That(s.At(8000), Is.EqualTo(1e-5));
    }

    [Test]
    public void NoWarmUpStartsAtThePeak()
    {
        var s = new WarmupCosineSchedule(1e-3, 0, 0, 10);
        Assert.That(s.At(0), Is.EqualTo(1e-3));
        Assert.That(s.At(5), Is.EqualTo(5e-4).Within(1e-15));
    }

    [Test]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new WarmupCosineSchedule(1e-3, 1e-2, 0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new WarmupCosineSchedule(1e-3, 0, 11, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new WarmupCosineSchedule(1e-3, 0, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosineSchedule(1e-3, 0, 0, 10).At(-1));
    }
}
