using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using static MaMA.Engine.Tests.TensorCore.TensorCoreTestData;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// <see cref="EngineOps.Attention"/> routed to the tensor-core kernel on ilgpu-cpu (bf16 q, k, v
/// with D 64 / 128, autocast, the fp32 opt-in) against the fast CPU backend's fp32 attention of the
/// same bf16 values: forward within bf16's 2e-2 (P is rounded to bf16), backward (the tensor-core
/// backward from the tensor-core output and log-sum-exp; TensorCoreAttentionBackwardTests compares
/// it with the fp32 kernels) likewise; fp32 outside the scopes stays fp32.
/// </summary>
[TestFixture]
public sealed class TensorCoreAttentionOpsTests
{
    private const double Budget = 2e-2;

    private static Device Sim => Device.Parse("ilgpu-cpu");

    private static double Rel(float[] actual, float[] expected) => RelativeError(actual, expected.Select(x => (double)x).ToArray());

    [Test]
    public void Routing_Bf16AndHeadSize()
    {
        Assert.That(EngineOps.UsesTensorCoreAttention(Sim, DType.BFloat16, DType.BFloat16, DType.BFloat16, 64), Is.True);
        Assert.That(EngineOps.UsesTensorCoreAttention(Sim, DType.BFloat16, DType.BFloat16, DType.BFloat16, 128), Is.True);
        Assert.That(EngineOps.UsesTensorCoreAttention(Sim, DType.BFloat16, DType.BFloat16, DType.BFloat16, 16), Is.False, "other head sizes keep the fp32 kernel");
        Assert.That(EngineOps.UsesTensorCoreAttention(Sim, DType.Float32, DType.Float32, DType.Float32, 64), Is.False, "fp32 stays exact by default");
        Assert.That(EngineOps.UsesTensorCoreAttention(Device.Cpu, DType.BFloat16, DType.BFloat16, DType.BFloat16, 64), Is.False);
        using (TensorCoreMath.AllowBf16())
            Assert.That(EngineOps.UsesTensorCoreAttention(Sim, DType.Float32, DType.Float32, DType.Float32, 64), Is.True);
    }

    [TestCase(64, false, false)]
    [TestCase(128, true, true)]
    public void Bf16_ForwardAndBackward_MatchCpuFp32(int d, bool causal, bool padded)
    {
        const int b = 2, h = 1, t = 37;
        float scale = 1f / MathF.Sqrt(d) / (causal ? 12f : 1f);
        float[] qv = Floats(b * h * t * d, seed: 11, scale: 2), kv = Floats(b * h * t * d, seed: 12, scale: 2), vv = Floats(b * h * t * d, seed: 13);
        float[] gv = Floats(b * h * t * d, seed: 14);
        float[]? keep = null;
        if (padded)
        {
            keep = new float[b * t];
            for (int j = 0; j < t; j++) keep[j] = 1f;
            for (int j = 0; j < 25; j++) keep[t + j] = 1f;
        }
        int[] shape = [b, h, t, d];

        (float[] o, float[][] grads) Run(Device device)
        {
            Tensor q = Tensor.FromArray(qv, shape, device).To(DType.BFloat16), k = Tensor.FromArray(kv, shape, device).To(DType.BFloat16);
            Tensor v = Tensor.FromArray(vv, shape, device).To(DType.BFloat16);
            if (device == Device.Cpu)
            {
                // The reference: the same bf16 values in fp32 on the fast CPU backend.
                q = q.To(DType.Float32);
                k = k.To(DType.Float32);
                v = v.To(DType.Float32);
            }
            q.RequiresGrad = k.RequiresGrad = v.RequiresGrad = true;
            Tensor? mask = keep is null ? null : Tensor.FromArray(keep, [b, t], device);
            Tensor o = EngineOps.Attention(q, k, v, mask, causal, scale);
            o.Backward(Tensor.FromArray(gv, shape, device));
            return (o.ToFloatArray(), [q.Grad!.To(DType.Float32).ToFloatArray(), k.Grad!.To(DType.Float32).ToFloatArray(), v.Grad!.To(DType.Float32).ToFloatArray()]);
        }

        var (oSim, gSim) = Run(Sim);
        var (oCpu, gCpu) = Run(Device.Cpu);
        double err = Rel(oSim, oCpu);
        TestContext.Out.WriteLine($"D {d} causal {causal} padded {padded}: forward {err:E2}, dq {Rel(gSim[0], gCpu[0]):E2}, dk {Rel(gSim[1], gCpu[1]):E2}, dv {Rel(gSim[2], gCpu[2]):E2}");
        Assert.That(err, Is.LessThan(Budget));
        for (int i = 0; i < 3; i++) Assert.That(Rel(gSim[i], gCpu[i]), Is.LessThan(Budget), $"gradient {i}");
    }

    /// <summary>
    /// The tensor-core forward takes row maxima of the unscaled scores, so it runs only for scale &gt; 0;
    /// bf16 inputs with a zero or negative scale take the fp32 kernels on the same bf16 values (equal
    /// to the CPU's to fp32 rounding), and the kernel's launcher refuses such a scale outright.
    /// </summary>
    [TestCase(-0.125f)]
    [TestCase(0f)]
    public void NonPositiveScale_KeepsTheFp32Kernels(float scale)
    {
        const int b = 1, h = 2, t = 21, d = 64;
        int[] shape = [b, h, t, d];
        float[] qv = Floats(b * h * t * d, seed: 31, scale: 2), kv = Floats(b * h * t * d, seed: 32, scale: 2), vv = Floats(b * h * t * d, seed: 33);
        float[] Run(Device device) => EngineOps.Attention(Tensor.FromArray(qv, shape, device).To(DType.BFloat16), Tensor.FromArray(kv, shape, device).To(DType.BFloat16),
            Tensor.FromArray(vv, shape, device).To(DType.BFloat16), null, false, scale).ToFloatArray();
        Assert.That(Rel(Run(Sim), Run(Device.Cpu)), Is.LessThan(1e-5), "fp32 kernels on the bf16 values, not the tensor-core kernel's bf16 P");
        var sim = (MaMA.Engine.Devices.IlgpuDevice)Sim;
        using var bits = sim.Accelerator.Allocate1D<ushort>(64);
        using var values = sim.Accelerator.Allocate1D<float>(64);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MaMA.Kernels.TensorCore.TensorCoreAttention.Launch(
            sim.Stream, bits.View, bits.View, bits.View, default, values.View, values.View, 1, 1, 1, 64, false, scale))!;
        Assert.That(e.Message, Does.Contain("scale must be positive"));
    }

    [Test]
    public void Autocast_Fp32Inputs_TakeTheTensorCorePath()
    {
        const int b = 1, h = 2, t = 21, d = 64;
        int[] shape = [b, h, t, d];
        float[] qv = Floats(b * h * t * d, seed: 21, scale: 2), kv = Floats(b * h * t * d, seed: 22, scale: 2), vv = Floats(b * h * t * d, seed: 23);
        float[] exact = EngineOps.Attention(Tensor.FromArray(qv, shape, Device.Cpu), Tensor.FromArray(kv, shape, Device.Cpu),
            Tensor.FromArray(vv, shape, Device.Cpu), null, false, 0.125f).ToFloatArray();
        float[] fp32 = EngineOps.Attention(Tensor.FromArray(qv, shape, Sim), Tensor.FromArray(kv, shape, Sim), Tensor.FromArray(vv, shape, Sim),
            null, false, 0.125f).ToFloatArray();
        float[] autocast;
        using (Autocast.Bf16())
            autocast = EngineOps.Attention(Tensor.FromArray(qv, shape, Sim), Tensor.FromArray(kv, shape, Sim), Tensor.FromArray(vv, shape, Sim),
                null, false, 0.125f).ToFloatArray();
        Assert.That(Rel(fp32, exact), Is.LessThan(1e-5), "fp32 outside autocast stays on the fp32 kernel");
        double err = Rel(autocast, exact);
        TestContext.Out.WriteLine($"autocast bf16 vs fp32: {err:E2}");
        Assert.That(err, Is.InRange(1e-5, Budget), "autocast rounds to bf16 and runs the tensor-core kernel");
    }
}
