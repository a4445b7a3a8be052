using MaMA.Kernels.LocalAlignment;

namespace MaMA.Engine.Tests.Families;

/// <summary>The maximum rule of every SLA path: larger wins, NaN wins over numbers, ties (of either kind) keep the smaller index.</summary>
[TestFixture]
public sealed class SlaMaxTests
{
    [TestCase(2f, 1f, true)]
    [TestCase(1f, 1f, false)]
    [TestCase(float.NaN, 1f, true)]
    [TestCase(float.NaN, float.PositiveInfinity, true)]
    [TestCase(float.PositiveInfinity, float.NaN, false)]
    [TestCase(float.NaN, float.NaN, false)]
    [TestCase(float.NegativeInfinity, float.NegativeInfinity, false)]
    public void InOrder(float candidate, float best, bool beats) => Assert.That(SlaMax.Beats(candidate, best), Is.EqualTo(beats));

    [TestCase(2f, 5, 1f, 0, true)]
    [TestCase(1f, 0, 1f, 5, true)]
    [TestCase(1f, 5, 1f, 0, false)]
    [TestCase(float.NaN, 5, 9f, 0, true)]
    [TestCase(9f, 0, float.NaN, 5, false)]
    [TestCase(float.NaN, 0, float.NaN, 5, true)]
    [TestCase(float.NaN, 5, float.NaN, 0, false)]
    public void AcrossLanes(float candidate, int candidateIndex, float best, int bestIndex, bool beats) =>
        Assert.That(SlaMax.Beats(candidate, candidateIndex, best, bestIndex), Is.EqualTo(beats));
}
