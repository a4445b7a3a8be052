using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// Ops on the tensor-core path (ilgpu-cpu: the emulated mma) against the fast CPU backend computing
/// the same bf16 values in fp32: bf16 matmul (odd sizes, transposes, broadcast batches, backward),
/// the fp32 opt-in scope and the fused LoRA forward. Same operands, exact products: ~1e-6.
/// </summary>
[TestFixture]
public sealed class TensorCoreOpsTests
{
    private const double Tight = 1e-5;

    private static Device Sim => Device.Parse("ilgpu-cpu");

    private static Tensor Bf16(float[] values, int[] shape, Device device) => Tensor.FromArray(values, shape, device).To(DType.BFloat16);

    private static double Rel(float[] actual, float[] expected) => RelativeError(actual, expected.Select(v => (double)v).ToArray());

    [TestCase(33, 77, 130, false, false)]
    [TestCase(130, 33, 77, true, false)]
    [TestCase(77, 130, 33, false, true)]
    [TestCase(40, 50, 60, true, true)]
    public void MatMul_Bf16_MatchesCpu(int m, int n, int k, bool transposeA, bool transposeB)
    {
        float[] av = Floats(m * k, seed: 1), bv = Floats(k * n, seed: 2);
        int[] aShape = transposeA ? [k, m] : [m, k], bShape = transposeB ? [n, k] : [k, n];
        Assert.That(EngineOps.UsesTensorCores(Sim, DType.BFloat16, DType.BFloat16), Is.True);
        float[] sim = EngineOps.MatMul(Bf16(av, aShape, Sim), Bf16(bv, bShape, Sim), transposeA, transposeB).ToFloatArray();
        float[] cpu = EngineOps.MatMul(Bf16(av, aShape, Device.Cpu), Bf16(bv, bShape, Device.Cpu), transposeA, transposeB).ToFloatArray();
        Assert.That(Rel(sim, cpu), Is.LessThan(Tight));
    }

    [Test]
    public void MatMul_Bf16_BroadcastBatch_AndBackward_MatchCpu()
    {
        float[] av = Floats(2 * 3 * 17 * 40, seed: 3), bv = Floats(40 * 23, seed: 4), dy = Floats(2 * 3 * 17 * 23, seed: 5);
        (float[] y, float[] da, float[] db) Run(Device d)
        {
            Tensor a = Bf16(av, [2, 3, 17, 40], d), b = Bf16(bv, [40, 23], d);
            a.RequiresGrad = true;
            b.RequiresGrad = true;
            Tensor y = EngineOps.MatMul(a, b);
            y.Backward(Tensor.FromArray(dy, [2, 3, 17, 23], d));
            return (y.ToFloatArray(), a.Grad!.ToFloatArray(), b.Grad!.ToFloatArray());
        }
        var sim = Run(Sim);
        var cpu = Run(Device.Cpu);
        Assert.That(Rel(sim.y, cpu.y), Is.LessThan(Tight));
        // Gradients are bf16 (they take the input's dtype); compare at bf16 resolution.
        Assert.That(Rel(sim.da, cpu.da), Is.LessThan(1e-2));
        Assert.That(Rel(sim.db, cpu.db), Is.LessThan(1e-2));
    }

    [Test]
    public void MatMul_Fp32_StaysExact_UnlessOptedIn()
    {
        const int m = 33, n = 77, k = 130;
        float[] av = Floats(m * k, seed: 6), bv = Floats(k * n, seed: 7);
        Tensor a = Tensor.FromArray(av, [m, k], Sim), b = Tensor.FromArray(bv, [k, n], Sim);
        float[] exact = EngineOps.MatMul(Tensor.FromArray(av, [m, k], Device.Cpu), Tensor.FromArray(bv, [k, n], Device.Cpu)).ToFloatArray();
        float[] rounded = EngineOps.MatMul(Bf16(av, [m, k], Device.Cpu), Bf16(bv, [k, n], Device.Cpu)).ToFloatArray();

        Assert.That(EngineOps.UsesTensorCores(Sim, DType.Float32, DType.Float32), Is.False);
        Assert.That(Rel(EngineOps.MatMul(a, b).ToFloatArray(), exact), Is.LessThan(Tight));
        using (TensorCoreMath.AllowBf16())
        {
            Assert.That(EngineOps.UsesTensorCores(Sim, DType.Float32, DType.Float32), Is.True);
            Assert.That(EngineOps.UsesTensorCores(Device.Cpu, DType.Float32, DType.Float32), Is.False);
            float[] fast = EngineOps.MatMul(a, b).ToFloatArray();
            Assert.That(Rel(fast, rounded), Is.LessThan(Tight));
            double vsExact = Rel(fast, exact);
            Assert.That(vsExact, Is.LessThan(2e-2).And.GreaterThan(1e-5), "bf16 rounding should show, within bf16 tolerance");
        }
        Assert.That(TensorCoreMath.Bf16ForFp32, Is.False);
    }

    [TestCase(WeightLayout.Conv1D, true)]
    [TestCase(WeightLayout.Linear, true)]
    [TestCase(WeightLayout.Linear, false)]
    public void LoraLinear_Bf16_FusedForward_MatchesCpu(WeightLayout layout, bool withBias)
    {
        const int inF = 130, outF = 77, r = 8;
        int[] xShape = [3, 11, inF];
        float[] xv = Floats(33 * inF, seed: 8), wv = Floats(inF * outF, seed: 9, 0.3), biasv = Floats(outF, seed: 10);
        float[] av = Floats(r * inF, seed: 11, 0.5), bv = Floats(outF * r, seed: 12, 0.5), dy = Floats(33 * outF, seed: 13);
        int[] wShape = layout == WeightLayout.Conv1D ? [inF, outF] : [outF, inF];
        (float[] y, float[] dA, float[] dB) Run(Device d)
        {
            Tensor x = Bf16(xv, xShape, d), w = Bf16(wv, wShape, d);
            Tensor a = Tensor.FromArray(av, [r, inF], d), b = Tensor.FromArray(bv, [outF, r], d);
            a.RequiresGrad = true;
            b.RequiresGrad = true;
            Tensor y = EngineOps.LoraLinear(x, w, withBias ? Tensor.FromArray(biasv, [outF], d) : null, a, b, 2f, layout);
            y.Backward(Tensor.FromArray(dy, [3, 11, outF], d));
            return (y.ToFloatArray(), a.Grad!.ToFloatArray(), b.Grad!.ToFloatArray());
        }
        var sim = Run(Sim);
        var cpu = Run(Device.Cpu);
        Assert.That(Rel(sim.y, cpu.y), Is.LessThan(Tight));
        Assert.That(Rel(sim.dA, cpu.dA), Is.LessThan(Tight));
        Assert.That(Rel(sim.dB, cpu.dB), Is.LessThan(Tight));
    }
}
