using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Kernels.TensorCore;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;
using Device = MaMA.Engine.Devices.Device;
using EngineLosses = MaMA.Engine.Losses.Losses;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The route a CUDA card older than sm_80 takes (<see cref="TensorCoreSupport"/>), run on the
/// simulator with the tensor cores switched off (<see cref="TensorCoreSupport.Disabled"/>, as
/// <c>MAMA_TENSOR_CORES=off</c>): bf16 products, attention, LoRA and the contrastive losses must run
/// no tensor-core kernel and give the fast CPU backend's fp32 numbers on the same bf16 values.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class OlderCardRouteTests
{
    private const double Tight = 1e-5, Bf16Grad = 1e-2;

    private static Device Sim => Device.Parse("ilgpu-cpu");

    private static double Rel(float[] actual, float[] expected) => RelativeError(actual, expected.Select(v => (double)v).ToArray());

    private static Tensor Bf16(float[] values, int[] shape, Device device) => Tensor.FromArray(values, shape, device).To(DType.BFloat16);

    private static float[] F32(Tensor t) => t.To(DType.Float32).ToFloatArray();

    /// <summary><paramref name="run"/> on the simulator with the tensor cores off; asserts no bf16 GEMM ran.</summary>
    private static T WithoutTensorCores<T>(Func<T> run)
    {
        bool was = TensorCoreSupport.Disabled;
        TensorCoreSupport.Disabled = true;
        try
        {
            Assert.That(EngineOps.UsesTensorCores(Sim, DType.BFloat16, DType.BFloat16), Is.False);
            long bf16Before = DeviceGemm.Bf16Calls;
            T result = run();
            Assert.That(DeviceGemm.Bf16Calls, Is.EqualTo(bf16Before), "no bf16 (tensor-core) GEMM on this route");
            return result;
        }
        finally
        {
            TensorCoreSupport.Disabled = was;
        }
    }

    [Test]
    public void Switch_TurnsTheSimulatorOff_AndIsNamed()
    {
        var sim = (MaMA.Engine.Devices.IlgpuDevice)Sim;
        Assert.That(TensorCoreSupport.Available(sim.Accelerator), Is.True);
        WithoutTensorCores(() =>
        {
            Assert.That(TensorCoreSupport.Available(sim.Accelerator), Is.False);
            Assert.That(EngineOps.UsesTensorCoreAttention(Sim, DType.BFloat16, DType.BFloat16, DType.BFloat16, 64), Is.False);
            Assert.That(TensorCoreSupport.Describe(ILGPU.Runtime.Cuda.CudaArchitecture.SM_90),
                Is.EqualTo("bf16 tensor cores (sm_90) off (MAMA_TENSOR_CORES=off): bf16 work runs on the fp32 kernels"));
            return 0;
        });
        Assert.That(TensorCoreSupport.Available(sim.Accelerator), Is.True, "restored");
    }

    [Test]
    public void MatMul_Bf16_ForwardAndBackward_MatchCpu()
    {
        float[] av = Floats(2 * 17 * 40, seed: 51), bv = Floats(40 * 23, seed: 52), dy = Floats(2 * 17 * 23, seed: 53);
        float[][] Run(Device d)
        {
            Tensor a = Bf16(av, [2, 17, 40], d), b = Bf16(bv, [40, 23], d);
            a.RequiresGrad = b.RequiresGrad = true;
            Tensor y = EngineOps.MatMul(a, b);
            y.Backward(Tensor.FromArray(dy, [2, 17, 23], d));
            return [F32(y), F32(a.Grad!), F32(b.Grad!)];
        }
        float[][] sim = WithoutTensorCores(() => Run(Sim));
        float[][] cpu = Run(Device.Cpu);
        Assert.That(Rel(sim[0], cpu[0]), Is.LessThan(Tight));
        Assert.That(Rel(sim[1], cpu[1]), Is.LessThan(Bf16Grad));
        Assert.That(Rel(sim[2], cpu[2]), Is.LessThan(Bf16Grad));
    }

    [TestCase(64, false)]
    [TestCase(128, true)]
    public void Attention_Bf16_ForwardAndBackward_MatchCpu(int d, bool causal)
    {
        const int b = 2, h = 2, t = 37;
        int[] shape = [b, h, t, d];
        float[] qv = Floats(b * h * t * d, seed: 54, scale: 2), kv = Floats(b * h * t * d, seed: 55, scale: 2), vv = Floats(b * h * t * d, seed: 56);
        float[] gv = Floats(b * h * t * d, seed: 57);
        float scale = 1f / MathF.Sqrt(d);
        float[][] Run(Device device)
        {
            Tensor q = Bf16(qv, shape, device), k = Bf16(kv, shape, device), v = Bf16(vv, shape, device);
            q.RequiresGrad = k.RequiresGrad = v.RequiresGrad = true;
            Tensor o = EngineOps.Attention(q, k, v, null, causal, scale);
            o.Backward(Tensor.FromArray(gv, shape, device));
            return [F32(o), F32(q.Grad!), F32(k.Grad!), F32(v.Grad!)];
        }
        float[][] sim = WithoutTensorCores(() => Run(Sim));
        float[][] cpu = Run(Device.Cpu);
        // fp32 kernels on both sides: the forward agrees to fp32 rounding (the tensor-core kernel's
        // bf16 P would be ~1e-3 away); the gradients are bf16 tensors.
        Assert.That(Rel(sim[0], cpu[0]), Is.LessThan(Tight));
        for (int i = 1; i < 4; i++) Assert.That(Rel(sim[i], cpu[i]), Is.LessThan(Bf16Grad), $"gradient {i}");
    }

    [Test]
    public void LoraLinear_Bf16_MatchesCpu()
    {
        const int inF = 130, outF = 77, r = 8;
        float[] xv = Floats(33 * inF, seed: 58), wv = Floats(inF * outF, seed: 59, 0.3), biasv = Floats(outF, seed: 60);
        float[] av = Floats(r * inF, seed: 61, 0.5), bv = Floats(outF * r, seed: 62, 0.5), dy = Floats(33 * outF, seed: 63);
        float[][] Run(Device d)
        {
            Tensor x = Bf16(xv, [33, inF], d), w = Bf16(wv, [inF, outF], d);
            Tensor a = Tensor.FromArray(av, [r, inF], d), b = Tensor.FromArray(bv, [outF, r], d);
            a.RequiresGrad = b.RequiresGrad = true;
            Tensor y = EngineOps.LoraLinear(x, w, Tensor.FromArray(biasv, [outF], d), a, b, 2f, WeightLayout.Conv1D);
            y.Backward(Tensor.FromArray(dy, [33, outF], d));
            return [y.ToFloatArray(), a.Grad!.ToFloatArray(), b.Grad!.ToFloatArray()];
        }
        float[][] sim = WithoutTensorCores(() => Run(Sim));
        float[][] cpu = Run(Device.Cpu);
        for (int i = 0; i < 3; i++) Assert.That(Rel(sim[i], cpu[i]), Is.LessThan(Tight), $"output {i}");
    }

    [Test]
    public void ClipLoss_UnderAutocast_MatchesCpu()
    {
        const int n = 19, e = 40;
        float[] av = Floats(n * e, seed: 64), bv = Floats(n * e, seed: 65);
        float[][] Run(Device d)
        {
            Tensor a = Tensor.FromArray(av, [n, e], d), b = Tensor.FromArray(bv, [n, e], d);
            a.RequiresGrad = b.RequiresGrad = true;
            using (Autocast.Bf16())
            {
                Tensor value = EngineLosses.ClipLoss(EngineOps.L2Normalize(a), EngineOps.L2Normalize(b), Tensor.Scalar(MathF.Log(1 / 0.07f), d));
                value.Backward();
                return [value.ToFloatArray(), a.Grad!.ToFloatArray(), b.Grad!.ToFloatArray()];
            }
        }
        float[][] sim = WithoutTensorCores(() => Run(Sim));
        float[][] cpu = Run(Device.Cpu);
        for (int i = 0; i < 3; i++) Assert.That(Rel(sim[i], cpu[i]), Is.LessThan(Tight), $"output {i}");
    }
}
