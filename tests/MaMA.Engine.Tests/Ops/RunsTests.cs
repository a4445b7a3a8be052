using MaMA.Kernels.Reduction;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// The contiguous runs that SLA's and the contrastive losses' reductions are split into
/// (<see cref="Runs"/>): every element in exactly one run, the runs in order, and their count at
/// the shapes that matter.
/// </summary>
[TestFixture]
public sealed class RunsTests
{
    [Test]
    public void RunsCoverEveryElementOnce_InOrder()
    {
        foreach (int length in new[] { 1, 5, 31, 32, 33, 37, 74, 130, 288, 576, 1369, 5000 })
        {
            int runs = Runs.For(length);
            int next = 0;
            for (int q = 0; q < runs; q++)
            {
                int start = Runs.Start(length, runs, q), end = Runs.End(length, runs, q);
                Assert.That(start, Is.EqualTo(next), $"length {length}, run {q} starts where run {q - 1} ended");
                Assert.That(end, Is.GreaterThanOrEqualTo(start));
                next = end;
            }
            Assert.That(next, Is.EqualTo(length), $"length {length}: the runs end at the last element");
        }
    }

    [TestCase(1, 1)]
    [TestCase(32, 1)]
    [TestCase(33, 2)]
    [TestCase(288, 9)]     // CLIP's logit rows at N = 288
    [TestCase(576, 18)]    // NT-Xent's
    [TestCase(1369, 32)]   // SLA's patches: 43 a run
    [TestCase(100_000, 32)]
    public void Count(int length, int runs) => Assert.That(Runs.For(length), Is.EqualTo(runs));
}
