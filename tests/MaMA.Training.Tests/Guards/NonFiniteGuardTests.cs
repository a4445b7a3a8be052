using MaMA.Training.Guards;

namespace MaMA.Training.Tests.Guards;

public class NonFiniteGuardTests
{
    [Test]
    public void CountsSkippedStepsAndStopsAfterTheLimitInARow()
    {
        var g = new NonFiniteGuard(3);
        Assert.That(g.Check(1.0, 2.0), Is.True);
        Assert.That(g.Check(double.NaN), Is.False);
        Assert.That(g.Check(1.0, double.PositiveInfinity), Is.False);
        Assert.That(g.ShouldStop, Is.False);
        Assert.That(g.Check(0.5), Is.True);
        Assert.That((g.SkippedTotal, g.InARow), Is.EqualTo((2L, 0)));
        g.Check(double.NaN);
        g.Check(double.NaN);
        g.Check(double.NegativeInfinity);
        Assert.That(g.ShouldStop, Is.True);
        Assert.That(g.SkippedTotal, Is.EqualTo(5));
        Assert.That(g.StopMessage(10), Does.Contain("3 optimizer steps in a row"));
    }

    [Test]
    public void ResumesItsCounters()
    {
        var g = new NonFiniteGuard(2, skippedTotal: 4, inARow: 1);
        g.Check(double.NaN);
        Assert.That(g.ShouldStop, Is.True);
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new NonFiniteGuard(2, skippedTotal: 0, inARow: 1));
    }
}
