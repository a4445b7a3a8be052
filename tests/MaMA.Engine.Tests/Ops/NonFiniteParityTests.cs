using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Infinities through the kernels' compensated sums (<see cref="MaMA.Kernels.CompensatedSum"/>): the
/// ILGPU kernels (CUDA's, run here on the simulator) give what the CPU backend and PyTorch give. Their
/// Kahan carry was inf - inf = NaN once a sum became infinite, so one infinite element, or finite ones
/// that overflow, made sums, means, cross-entropies and norms NaN on a GPU only.
/// </summary>
[TestFixture]
public sealed class NonFiniteParityTests
{
    private static readonly string[] Devices = ["cpu", "ilgpu-cpu"];

    private static Tensor On(string device, float[] values, params int[] shape) => Tensor.FromArray(values, shape, Device.Parse(device));

    [TestCaseSource(nameof(Devices))]
    public void SumsAndMeansKeepAnInfinity(string device)
    {
        Tensor x = On(device, [1f, float.PositiveInfinity, 2f, 1f, 2f, 3f], 2, 3);
        Assert.That(EngineOps.Sum(x, [1]).ToArray<float>(), Is.EqualTo(new[] { float.PositiveInfinity, 6f }));
        Assert.That(EngineOps.Mean(x).ToArray<float>(), Is.EqualTo(new[] { float.PositiveInfinity }));
        // Not one run of axes: the permuted row path.
        Tensor y = On(device, [.. Enumerable.Repeat(1f, 17), float.PositiveInfinity], 3, 2, 3);
        Assert.That(EngineOps.Sum(y, [0, 2]).ToArray<float>(), Is.EqualTo(new[] { 9f, float.PositiveInfinity }));
        // Finite terms whose sum overflows.
        Assert.That(EngineOps.Sum(On(device, Enumerable.Repeat(3e38f, 8).ToArray(), 2, 4), [1]).ToArray<float>(), Is.All.EqualTo(float.PositiveInfinity));
        // A NaN term still makes the sum NaN.
        Assert.That(EngineOps.Sum(On(device, [1f, float.NaN, float.PositiveInfinity], 1, 3), [1]).ToArray<float>(), Is.All.NaN);
    }

    [TestCaseSource(nameof(Devices))]
    public void CrossEntropyOfAnImpossibleTargetIsInfinite(string device)
    {
        Tensor logits = On(device, [float.NegativeInfinity, 1f, 1f, 1f, 1f, 1f], 2, 3);
        Tensor targets = Tensor.FromArray(new long[] { 0, 1 }, [2], Device.Parse(device));
        Assert.That(EngineOps.CrossEntropy(logits, targets).ToArray<float>(), Is.EqualTo(new[] { float.PositiveInfinity }));
        Assert.That(EngineOps.CrossEntropy(logits, targets, labelSmoothing: 0.1f).ToArray<float>(), Is.EqualTo(new[] { float.PositiveInfinity }));
    }

    [TestCaseSource(nameof(Devices))]
    public void L2NormalizeOfAnOverflowingRowIsZeroAndOfAnInfiniteOneNaN(string device)
    {
        // sum of squares 4e60 overflows: x / inf = 0, as in PyTorch; a row holding inf gives inf / inf = NaN.
        Tensor x = On(device, [1e30f, 1e30f, 1e30f, 1e30f, 4f, float.PositiveInfinity, 6f, 7f], 2, 4);
        float[] y = EngineOps.L2Normalize(x).ToArray<float>();
        Assert.That(y[..4], Is.All.EqualTo(0f));
        Assert.That(y[5], Is.NaN);
    }

    private static readonly float[] GeluEdges = [float.PositiveInfinity, float.NegativeInfinity, 1e20f, -1e20f, 100f, -100f, 20f, -20f, float.NaN];

    /// <summary>
    /// GELU beyond the exponential's range: where the kernels give a finite value the CPU backend gives
    /// the same within 1e-30, forward and backward, and where they give inf or NaN it gives inf or NaN
    /// too. Its vector exp used to stand in e^88 for anything larger, so tanh GELU gave -6e-19 at
    /// -1e20 (the kernels -0) and -inf at -inf (NaN), and finite slopes where the kernels overflow. For
    /// very negative x the CPU exp still stands in e^-87 for smaller values: -4.5e-38 at -100, where
    /// the kernels give -0. PyTorch agrees with the kernels but for the exact form at +inf (NaN; the
    /// engine gives the limit, +inf).
    /// </summary>
    [TestCase(GeluForm.Erf)]
    [TestCase(GeluForm.Tanh)]
    public void GeluAtTheEdgesIsTheSameOnBothDevices(GeluForm form)
    {
        (float[] Y, float[] Dx) Run(string device)
        {
            var x = new MaMA.Engine.Nn.Parameter(On(device, GeluEdges, GeluEdges.Length));
            Tensor y = EngineOps.Gelu(x, form);
            EngineOps.Sum(y).Backward();
            return (y.ToArray<float>(), x.Grad!.ToArray<float>());
        }
        (float[] cpuY, float[] cpuDx) = Run("cpu");
        (float[] simY, float[] simDx) = Run("ilgpu-cpu");
        for (int i = 0; i < GeluEdges.Length; i++)
        {
            foreach ((string what, float cpu, float sim) in new[] { ("y", cpuY[i], simY[i]), ("dx", cpuDx[i], simDx[i]) })
            {
                if (float.IsFinite(sim)) Assert.That(cpu, Is.EqualTo(sim).Within(1e-30f), $"{what} at {GeluEdges[i]}");
                else Assert.That(float.IsFinite(cpu), Is.False, $"{what} at {GeluEdges[i]}: the kernels give {sim}, the CPU {cpu}");
            }
        }
        // The limits: x for large x, 0 for very negative x, slope 1 and 0; NaN where inf times 0 arises.
        Assert.That(cpuY[1..8], Is.EqualTo(new[] { float.NaN, 1e20f, 0f, 100f, 0f, 20f, 0f }).Within(1e-30f));
        Assert.That(cpuDx[4..8], Is.EqualTo(new[] { 1f, 0f, 1f, 0f }).Within(1e-30f));
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void SoftmaxOfFarApartLogitsHasExactZeros(string device)
    {
        float[] p = EngineOps.Softmax(On(device, [0f, -200f, -87.4f, -86f], 1, 4)).ToArray<float>();
        Assert.That(p[1], Is.EqualTo(0f));
        Assert.That(p[2], Is.LessThan(1.1754944e-38f), "e^-87.4 is below the smallest normal float: 0 on the CPU backend (flushed), subnormal in the kernels");
        Assert.That(p[3], Is.GreaterThan(0f));
    }
}
