using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Reduction;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Sum and mean over adjacent axes on accelerators (Ops.ReduceSumSplit, SplitReduce kernels) on the
/// ILGPU CPU simulator against an fp64 reference: one pass, several passes (a full sum of 10^5
/// elements takes four), column sums (a bias gradient), a middle axis, keepDim, an empty reduced
/// axis, the gradient, and axes that are not adjacent (the permuted row path).
/// </summary>
[TestFixture]
public sealed class SplitReduceTests
{
    private static Device Simulator => Device.Parse("ilgpu-cpu");

    [TestCase(new[] { 100_000 }, new[] { 0 }, false)]        // full sum, four passes
    [TestCase(new[] { 5000, 7 }, new[] { 0 }, false)]        // column sums: a bias gradient
    [TestCase(new[] { 3, 1000, 5 }, new[] { 1 }, true)]      // a mean over tokens
    [TestCase(new[] { 2, 3, 40, 6 }, new[] { 1, 2 }, false)] // two adjacent axes
    [TestCase(new[] { 4, 33 }, new[] { 1 }, true)]           // short rows: one pass
    [TestCase(new[] { 4, 5, 6 }, new[] { 0, 2 }, false)]     // not adjacent: the permuted row path
    public void MatchesAnFp64Reference(int[] shape, int[] axes, bool mean)
    {
        var rng = new Random(11);
        float[] values = Enumerable.Range(0, (int)Shape.Numel(shape)).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        Tensor x = Tensor.FromArray(values, shape, Simulator);
        foreach (bool keepDim in new[] { false, true })
        {
            Tensor y = mean ? EngineOps.Mean(x, axes, keepDim) : EngineOps.Sum(x, axes, keepDim);
            (double[] expected, int[] outShape) = Reference(values, shape, axes, mean, keepDim);
            Assert.That(y.ShapeArray, Is.EqualTo(outShape));
            float[] got = y.ToArray<float>();
            for (int i = 0; i < expected.Length; i++)
                Assert.That(got[i], Is.EqualTo(expected[i]).Within(1e-5 * Math.Max(1, Math.Abs(expected[i]))), $"output {i}, keepDim {keepDim}");
        }
    }

    [Test]
    public void SeveralPassesWhenTheReducedAxisIsLong()
    {
        // 1 output of 10^5: 3125 splits, then 98, then 4, then 1.
        Assert.That(SplitReduce.Splits(1, 100_000), Is.EqualTo(3125));
        Assert.That(SplitReduce.Splits(1, 3125), Is.EqualTo(98));
        Assert.That(SplitReduce.Splits(1, 98), Is.EqualTo(4));
        Assert.That(SplitReduce.Splits(1, 4), Is.EqualTo(1));
        // A ViT bias gradient at batch 36: 768 outputs of 49,464 rows: 341 splits of 146 rows.
        Assert.That(SplitReduce.Splits(768, 36 * 1374), Is.EqualTo(341));
    }

    [Test]
    public void AnEmptyReducedAxisSumsToZero()
    {
        Tensor x = Tensor.Zeros([3, 0, 5], DType.Float32, Simulator);
        Tensor y = EngineOps.Sum(x, [1]);
        Assert.That(y.ShapeArray, Is.EqualTo(new[] { 3, 5 }));
        Assert.That(y.ToArray<float>(), Is.All.EqualTo(0f));
    }

    [TestCase("cpu", new[] { 1 })]       // the CPU reduction
    [TestCase("ilgpu-cpu", new[] { 1 })] // one run of axes: the split kernels
    [TestCase("ilgpu-cpu", new[] { 0, 1 })]
    [TestCase("ilgpu-cpu", new[] { 1, 2 })]
    public void AMeanOverNoElementsIsNaNAsInPyTorch(string device, int[] axes)
    {
        // It used to be 0, which hid an empty selection (torch.mean of an empty axis is NaN).
        Tensor x = Tensor.Zeros([3, 0, 5], DType.Float32, Device.Parse(device));
        float[] y = EngineOps.Mean(x, axes).ToArray<float>();
        Assert.That(y, Is.Not.Empty);
        Assert.That(y, Is.All.NaN);
    }

    [Test]
    public void GradientOfAMeanOverTokensIsOneOverT()
    {
        Tensor x = Tensor.FromArray(Enumerable.Range(0, 2 * 300 * 3).Select(i => (float)i).ToArray(), [2, 300, 3], Simulator);
        x.RequiresGrad = true;
        EngineOps.Sum(EngineOps.Mean(x, [1])).Backward();
        Assert.That(x.Grad!.ToArray<float>(), Is.All.EqualTo(1f / 300).Within(1e-9));
    }

    private static (double[] Values, int[] Shape) Reference(float[] x, int[] shape, int[] axes, bool mean, bool keepDim)
    {
        int rank = shape.Length;
        int[] outShape = keepDim
            ? Enumerable.Range(0, rank).Select(d => axes.Contains(d) ? 1 : shape[d]).ToArray()
            : Enumerable.Range(0, rank).Where(d => !axes.Contains(d)).Select(d => shape[d]).ToArray();
        int[] kept = Enumerable.Range(0, rank).Where(d => !axes.Contains(d)).ToArray();
        int n = axes.Aggregate(1, (p, a) => p * shape[a]);
        var sums = new double[Math.Max(1, kept.Aggregate(1, (p, d) => p * shape[d]))];
        var index = new int[rank];
        for (int flat = 0; flat < x.Length; flat++)
        {
            int rest = flat;
            for (int d = rank - 1; d >= 0; d--)
            {
                index[d] = rest % shape[d];
                rest /= shape[d];
            }
            int o = 0;
            foreach (int d in kept) o = o * shape[d] + index[d];
            sums[o] += x[flat];
        }
        if (mean)
            for (int i = 0; i < sums.Length; i++) sums[i] /= n;
        return (sums, outShape);
    }
}
