using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// The GEMM form of the attention backward (what CUDA with cuBLAS runs), on the ILGPU CPU simulator
/// with the generated GEMM: it must give the per-row kernels' gradients (themselves checked against
/// libtorch) for bidirectional, causal and padded attention, including rows that see no key, with the
/// heads split into several chunks and a short last chunk.
/// </summary>
[TestFixture]
[NonParallelizable]  // switches process-wide settings of Ops
public sealed class AttentionGemmBackwardTests
{
    private static Device Simulator => Device.Parse("ilgpu-cpu");

    [TearDown]
    public void Restore()
    {
        EngineOps.AttentionBackward = GemmForm.Auto;
        EngineOps.AttentionBackwardChunkElements = 32L << 20;
    }

    // (batch, heads, T, D, causal, padded keys of batch 0 / of batch 1 (-1: all), heads per chunk)
    [TestCase(1, 3, 37, 16, false, 0, 0, 2, TestName = "Gemm_Bidirectional_T37_Chunk2of3")]
    [TestCase(2, 2, 9, 16, true, 2, -1, 3, TestName = "Gemm_CausalPadded_EmptyRows_Chunk3of4")]
    [TestCase(2, 3, 130, 32, true, 17, 0, 4, TestName = "Gemm_Causal_T130_Chunk4of6")]
    [TestCase(2, 2, 24, 8, false, 5, 9, 100, TestName = "Gemm_Padded_OneChunk")]
    public void GemmBackward_EqualsTheRowKernels(int b, int h, int t, int d, bool causal, int pad0, int pad1, int headsPerChunk)
    {
        float[] keep = new float[b * t];
        for (int j = 0; j < t; j++)
        {
            keep[j] = j >= pad0 ? 1f : 0f;
            if (b > 1) keep[t + j] = pad1 < 0 ? 0f : (j < t - pad1 ? 1f : 0f);
        }
        float scale = 1f / MathF.Sqrt(d);

        EngineOps.AttentionBackward = GemmForm.Kernels;
        long before = DeviceGemm.Calls;
        var (dqK, dkK, dvK) = Gradients(b, h, t, d, keep, causal, scale);
        Assert.That(DeviceGemm.Calls, Is.EqualTo(before), "the per-row kernels ran no GEMM");
        EngineOps.AttentionBackward = GemmForm.Gemm;
        EngineOps.AttentionBackwardChunkElements = (long)headsPerChunk * t * t;
        before = DeviceGemm.Calls;
        var (dqG, dkG, dvG) = Gradients(b, h, t, d, keep, causal, scale);
        Assert.That(DeviceGemm.Calls, Is.GreaterThan(before), "the GEMM form ran its GEMMs");

        Assert.That(OpResult.RelativeError(dqG, dqK), Is.LessThan(1e-5), "dq");
        Assert.That(OpResult.RelativeError(dkG, dkK), Is.LessThan(1e-5), "dk");
        Assert.That(OpResult.RelativeError(dvG, dvK), Is.LessThan(1e-5), "dv");
        // Rows that see no key and padded keys: exactly zero, as the kernels give.
        for (int i = 0; i < dqK.Length; i++)
        {
            if (dqK[i] == 0f) Assert.That(dqG[i], Is.EqualTo(0f), $"dq[{i}]");
            if (dkK[i] == 0f && dvK[i] == 0f) Assert.That((dkG[i], dvG[i]), Is.EqualTo((0f, 0f)), $"dk/dv[{i}]");
        }
        Assert.That(dqK.Count(x => x == 0f), pad1 < 0 || (causal && pad0 > 0) ? Is.GreaterThan(0) : Is.EqualTo(0), "the case has the empty rows it names");
    }

    private static (float[] Dq, float[] Dk, float[] Dv) Gradients(int b, int h, int t, int d, float[] keep, bool causal, float scale)
    {
        int n = b * h * t * d;
        Tensor Make(int seed)
        {
            var rng = new Random(seed);
            Tensor x = Tensor.FromArray(Enumerable.Range(0, n).Select(_ => OpData.Normal(rng)).ToArray(), [b, h, t, d], Simulator);
            x.RequiresGrad = true;
            return x;
        }
        Tensor q = Make(1), k = Make(2), v = Make(3);
        var rngG = new Random(4);
        Tensor dy = Tensor.FromArray(Enumerable.Range(0, n).Select(_ => OpData.Normal(rngG)).ToArray(), [b, h, t, d], Simulator);
        Tensor y = EngineOps.Attention(q, k, v, Tensor.FromArray(keep, [b, t], Simulator), causal, scale);
        y.Backward(dy);
        return (q.Grad!.ToFloatArray(), k.Grad!.ToFloatArray(), v.Grad!.ToFloatArray());
    }
}
