using MaMA.Data.Splits;

namespace MaMA.Data.Tests.Splits;

[TestFixture]
public sealed class BalancedSubsetTests
{
    [Test]
    public void EqualCountPerClassEqualToTheSmallestClass()
    {
        // Class sizes 50, 20, 7 and some unlabelled items.
        int?[] labels = [.. Enumerable.Repeat<int?>(0, 50), .. Enumerable.Repeat<int?>(1, 20), .. Enumerable.Repeat<int?>(2, 7), null, null];
        IReadOnlyList<int> chosen = BalancedSubset.SelectIndices(labels, l => l, seed: 4);
        Assert.That(chosen, Has.Count.EqualTo(21));
        Assert.That(chosen.GroupBy(i => labels[i]).ToDictionary(g => g.Key!.Value, g => g.Count()), Is.EqualTo(new Dictionary<int, int> { [0] = 7, [1] = 7, [2] = 7 }));
        Assert.That(chosen, Is.Ordered.And.Unique);
        Assert.That(BalancedSubset.SelectIndices(labels, l => l, seed: 4), Is.EqualTo(chosen), "same seed, same subset");
        Assert.That(BalancedSubset.SelectIndices(labels, l => l, seed: 5), Is.Not.EqualTo(chosen));
        Assert.That(BalancedSubset.SelectIndices(labels, l => l, seed: 4, perClass: 3), Has.Count.EqualTo(9));
        Assert.That(BalancedSubset.Select(new[] { "a", "b" }, _ => null, 0), Is.Empty);
    }
}
