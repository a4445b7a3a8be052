using MaMA.Kernels.Layout;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// <see cref="IndexMap"/>, the by-value shape and strides of the broadcast and strided-copy kernels:
/// every position of random layouts (broadcast zeros, permutations, size-1 axes, offsets, up to
/// rank 9) maps to the offsets of the plain row-major decomposition, and layouts with more than
/// six axes left after coalescing are split into launches that cover the space in order.
/// </summary>
[TestFixture]
public sealed class IndexMapTests
{
    [Test]
    public void EveryPositionMapsToTheRowMajorOffsets([Range(0, 59)] int seed)
    {
        var rng = new Random(seed);
        int rank = seed % 10;
        int[] shape = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 4)).ToArray();
        long[] a = RandomStrides(rng, shape), b = RandomStrides(rng, shape);
        long aBase = rng.Next(0, 50), bBase = rng.Next(0, 50);

        long next = 0;
        foreach (IndexMap.Slice slice in IndexMap.Slices(shape, a, aBase, b, bBase))
        {
            Assert.That(slice.First, Is.EqualTo(next), "slices cover the space in order");
            for (int i = 0; i < slice.Count; i++)
            {
                IndexPair at = slice.Map.At(i);
                (long wantA, long wantB) = RowMajor(slice.First + i, shape, a, aBase, b, bBase);
                Assert.That((at.A, at.B), Is.EqualTo((wantA, wantB)), $"position {slice.First + i} of shape [{string.Join(", ", shape)}]");
            }
            next += slice.Count;
        }
        Assert.That(next, Is.EqualTo(shape.Aggregate(1L, (p, s) => p * s)));
    }

    [Test]
    public void BiasAddCoalescesToTwoAxes()
    {
        // x [36, 1370, 768] contiguous + bias [768]: the two outer axes merge for both operands.
        IndexMap.Slice only = IndexMap.Slices([36, 1370, 768], [1370 * 768, 768, 1], 0, [0, 0, 1], 0).Single();
        Assert.That(only.Map.Inner, Is.EqualTo(1));
        Assert.That((only.Map.N0, only.Map.A0, only.Map.B0, only.Map.AOuter, only.Map.BOuter), Is.EqualTo((768u, 1L, 1L, 768L, 0L)));
        Assert.That(only.Count, Is.EqualTo(36 * 1370 * 768));
    }

    [Test]
    public void EightUnmergeableAxesTakeOneLaunchPerOuterPosition()
    {
        // A reversed permutation of [2, 3, 2, 3, 2, 3, 2, 3]: no two neighbours merge, so 8 axes stay;
        // the map holds the last 6 and the leading 2 x 3 positions are separate launches.
        int[] shape = [2, 3, 2, 3, 2, 3, 2, 3];
        long[] contiguous = new long[8];
        long stride = 1;
        for (int d = 0; d < 8; d++)
        {
            contiguous[d] = stride;
            stride *= shape[d];
        }
        IndexMap.Slice[] slices = IndexMap.Slices(shape, contiguous, 0).ToArray();
        Assert.That(slices, Has.Length.EqualTo(6));
        Assert.That(slices.Select(s => s.Count), Is.All.EqualTo(2 * 3 * 2 * 3 * 2 * 3));
        Assert.That(slices.Select(s => s.Map.Inner), Is.All.EqualTo(IndexMap.MaxRank - 1));
    }

    [Test]
    public void EmptyShapesHaveNoLaunchAndScalarsOne()
    {
        Assert.That(IndexMap.Slices([3, 0, 2], [0, 2, 1], 0), Is.Empty);
        IndexMap.Slice scalar = IndexMap.Slices([], [], 7).Single();
        Assert.That((scalar.Count, scalar.Map.At(0).A), Is.EqualTo((1, 7L)));
    }

    /// <summary>Contiguous, permuted-contiguous or broadcast (0) strides, chosen per axis.</summary>
    private static long[] RandomStrides(Random rng, int[] shape)
    {
        int[] order = Enumerable.Range(0, shape.Length).OrderBy(_ => rng.Next()).ToArray();
        var strides = new long[shape.Length];
        long s = 1;
        foreach (int d in order.Reverse())
        {
            strides[d] = rng.Next(4) == 0 ? 0 : s;
            s *= shape[d] + rng.Next(2); // sometimes padded, as a narrowed view
        }
        return strides;
    }

    private static (long A, long B) RowMajor(long i, int[] shape, long[] a, long aBase, long[] b, long bBase)
    {
        long oa = aBase, ob = bBase;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            long c = i % shape[d];
            i /= shape[d];
            oa += c * a[d];
            ob += c * b[d];
        }
        return (oa, ob);
    }
}
