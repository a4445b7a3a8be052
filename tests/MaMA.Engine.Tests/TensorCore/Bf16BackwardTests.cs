using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The backward of a product that ran on bf16 values runs its products on bf16 values too, outside
/// any autocast scope: dy is rounded to bf16 (as PyTorch's gradient of a bf16 output is), and on the
/// tensor-core devices the products are bf16 GEMMs (DeviceGemm.RunBf16), not fp32 GEMMs over
/// widened copies. The operands are fp32 leaves cast to bf16 by recorded casts, so the gradients
/// arrive in fp32 and can be compared tightly: the CPU against an explicit rounded-dy reference, the
/// simulator against the CPU.
/// </summary>
[TestFixture]
public sealed class Bf16BackwardTests
{
    private const double Tight = 1e-5;

    private static Device Sim => Device.Parse("ilgpu-cpu");

    private static double Rel(float[] actual, float[] expected) => RelativeError(actual, expected.Select(v => (double)v).ToArray());

    private static Tensor Leaf(float[] values, int[] shape, Device device)
    {
        Tensor t = Tensor.FromArray(values, shape, device);
        t.RequiresGrad = true;
        return t;
    }

    private static Tensor Rounded(float[] values, int[] shape, Device device) => Tensor.FromArray(values, shape, device).To(DType.BFloat16);

    [TestCase(false)]
    [TestCase(true)]
    public void MatMul_Bf16Product_BackwardRoundsDy(bool transposeB)
    {
        const int m = 37, k = 70, n = 45;
        float[] av = Floats(m * k, seed: 21), bv = Floats(k * n, seed: 22), dyv = Floats(m * n, seed: 23);
        int[] bShape = transposeB ? [n, k] : [k, n];
        (float[] da, float[] db) Run(Device d)
        {
            Tensor a = Leaf(av, [m, k], d), b = Leaf(bv, bShape, d);
            Tensor y = EngineOps.MatMul(a.To(DType.BFloat16), b.To(DType.BFloat16), transposeB: transposeB);
            Assert.That(Autocast.IsEnabled, Is.False);
            y.Backward(Tensor.FromArray(dyv, [m, n], d));
            return (a.Grad!.ToFloatArray(), b.Grad!.ToFloatArray());
        }

        var cpu = Run(Device.Cpu);
        // dA = bf16(dy) B^T and dB = A^T bf16(dy) on the bf16 operands (B^T's products swap with transposeB).
        Tensor a16 = Rounded(av, [m, k], Device.Cpu), b16 = Rounded(bv, bShape, Device.Cpu), dy16 = Rounded(dyv, [m, n], Device.Cpu);
        float[] da = EngineOps.MatMul(dy16, b16, transposeB: !transposeB).ToFloatArray();
        float[] db = (transposeB ? EngineOps.MatMul(dy16, a16, transposeA: true) : EngineOps.MatMul(a16, dy16, transposeA: true)).ToFloatArray();
        Assert.That(cpu.da, Is.EqualTo(da), "dA is not the product of the rounded dy");
        Assert.That(cpu.db, Is.EqualTo(db), "dB is not the product of the rounded dy");
        // The rounding is visible: the unrounded dy gives another dA.
        float[] unrounded = EngineOps.MatMul(Tensor.FromArray(dyv, [m, n], Device.Cpu), b16.To(DType.Float32), transposeB: !transposeB).ToFloatArray();
        Assert.That(Rel(cpu.da, unrounded), Is.GreaterThan(1e-4));

        long before = DeviceGemm.Bf16Calls;
        var sim = Run(Sim);
        Assert.That(DeviceGemm.Bf16Calls - before, Is.EqualTo(3), "forward and both backward products should be bf16 GEMMs");
        Assert.That(Rel(sim.da, cpu.da), Is.LessThan(Tight));
        Assert.That(Rel(sim.db, cpu.db), Is.LessThan(Tight));
    }

    [TestCase(WeightLayout.Conv1D, GemmForm.Kernels)]
    [TestCase(WeightLayout.Linear, GemmForm.Kernels)]
    [TestCase(WeightLayout.Conv1D, GemmForm.Gemm)]
    public void LoraLinear_Bf16Base_InputGradientRoundsDy(WeightLayout layout, GemmForm form)
    {
        const int rows = 29, inF = 66, outF = 52, r = 4;
        const float scaling = 2f;
        float[] xv = Floats(rows * inF, seed: 31), wv = Floats(inF * outF, seed: 32, 0.3), av = Floats(r * inF, seed: 33, 0.5);
        float[] bv = Floats(outF * r, seed: 34, 0.5), dyv = Floats(rows * outF, seed: 35);
        int[] wShape = layout == WeightLayout.Conv1D ? [inF, outF] : [outF, inF];
        float[] Run(Device d)
        {
            Tensor x = Leaf(xv, [rows, inF], d);
            Tensor y = EngineOps.LoraLinear(x.To(DType.BFloat16), Rounded(wv, wShape, d), null,
                Tensor.FromArray(av, [r, inF], d), Tensor.FromArray(bv, [outF, r], d), scaling, layout);
            y.Backward(Tensor.FromArray(dyv, [rows, outF], d));
            return x.Grad!.ToFloatArray();
        }

        float[] cpu = Run(Device.Cpu);
        // dx = bf16(dy) W^T (on the bf16 W) + s (dy B) A with the full dy in the low-rank term.
        Tensor w16 = Rounded(wv, wShape, Device.Cpu), dy = Tensor.FromArray(dyv, [rows, outF], Device.Cpu);
        Tensor a = Tensor.FromArray(av, [r, inF], Device.Cpu), b = Tensor.FromArray(bv, [outF, r], Device.Cpu);
        Tensor low = EngineOps.Mul(EngineOps.MatMul(EngineOps.MatMul(dy, b), a), Tensor.Scalar(scaling, Device.Cpu));
        // Conv1D W [in, out]: dx = dy W^T; Linear W [out, in]: dx = dy W.
        Tensor Base(Tensor g) => EngineOps.MatMul(g, w16, transposeB: layout == WeightLayout.Conv1D);
        float[] expected = EngineOps.Add(Base(dy.To(DType.BFloat16)), low).ToFloatArray();
        float[] unrounded = EngineOps.Add(Base(dy), low).ToFloatArray();
        Assert.That(Rel(cpu, expected), Is.LessThan(Tight));
        Assert.That(Rel(cpu, unrounded), Is.GreaterThan(1e-4), "the rounding of dy should show");

        GemmForm saved = EngineOps.LoraLinearForm;
        EngineOps.LoraLinearForm = form;
        try
        {
            long before = DeviceGemm.Bf16Calls;
            float[] sim = Run(Sim);
            // (the forward's x W is the fused tensor-core GEMM with the LoRA epilogue, which is not counted)
            Assert.That(DeviceGemm.Bf16Calls - before, Is.EqualTo(1), "the backward's dy W^T should be a bf16 GEMM");
            Assert.That(Rel(sim, cpu), Is.LessThan(Tight));
        }
        finally
        {
            EngineOps.LoraLinearForm = saved;
        }
    }
}
