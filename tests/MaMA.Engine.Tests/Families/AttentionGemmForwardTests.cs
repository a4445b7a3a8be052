using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;
using FlashKernels = MaMA.Kernels.Attention.FlashAttention;

namespace MaMA.Engine.Tests.Families;

/// <summary>
/// The GEMM form of the fp32 attention forward (what CUDA with cuBLAS runs), on the ILGPU CPU
/// simulator with the generated GEMM: it must give the per-row kernel's output and log-sum-exp
/// (the per-row kernels are themselves checked against libtorch), and so the same gradients through
/// either form of the backward, for bidirectional, causal and padded attention, including rows that
/// see no key (output 0, lse +inf), odd T and D, with the heads split into several chunks and a
/// short last chunk.
/// </summary>
[TestFixture]
[NonParallelizable]  // switches process-wide settings of Ops
public sealed class AttentionGemmForwardTests
{
    private static Device Simulator => Device.Parse("ilgpu-cpu");

    [TearDown]
    public void Restore()
    {
        EngineOps.AttentionForward = GemmForm.Auto;
        EngineOps.AttentionForwardChunkElements = 32L << 20;
        EngineOps.AttentionBackward = GemmForm.Auto;
        EngineOps.AttentionBackwardChunkElements = 32L << 20;
        EngineOps.AttentionSoftmaxForm = RowForm.Auto;
    }

    // (batch, heads, T, D, causal, padded keys of batch 0 / of batch 1 (-1: all), heads per chunk)
    [TestCase(1, 3, 37, 16, false, 0, 0, 2, TestName = "GemmForward_Bidirectional_T37_Chunk2of3")]
    [TestCase(2, 3, 130, 32, true, 0, 0, 4, TestName = "GemmForward_Causal_T130_Chunk4of6")]
    [TestCase(2, 2, 24, 8, false, 5, -1, 3, TestName = "GemmForward_Padded_FullyPaddedBatchRow_Chunk3of4")]
    [TestCase(2, 2, 9, 16, true, 2, -1, 1, TestName = "GemmForward_CausalPadded_EmptyRows_Chunk1of4")]
    [TestCase(2, 3, 31, 7, true, 3, 4, 5, TestName = "GemmForward_CausalPadded_OddTD_Chunk5of6")]
    [TestCase(2, 2, 24, 8, false, 5, 9, 100, TestName = "GemmForward_Padded_OneChunk")]
    public void GemmForward_EqualsTheRowKernel(int b, int h, int t, int d, bool causal, int pad0, int pad1, int headsPerChunk)
    {
        float[] keep = Keep(b, t, pad0, pad1);
        float scale = 1f / MathF.Sqrt(d);
        bool emptyRows = pad1 < 0 || (causal && pad0 > 0);

        // Reference: the per-row forward and backward kernels; no GEMM runs.
        EngineOps.AttentionForward = GemmForm.Kernels;
        EngineOps.AttentionBackward = GemmForm.Kernels;
        long before = DeviceGemm.Calls;
        var reference = Run(b, h, t, d, keep, causal, scale);
        Assert.That(DeviceGemm.Calls, Is.EqualTo(before), "the per-row kernels ran no GEMM");

        // GEMM-form forward, per-row backward: the backward reads the forward's o and lse, so the
        // gradients check lse too. Only the forward can have run GEMMs here.
        EngineOps.AttentionForward = GemmForm.Gemm;
        EngineOps.AttentionForwardChunkElements = (long)headsPerChunk * t * t;
        before = DeviceGemm.Calls;
        var gemm = Run(b, h, t, d, keep, causal, scale);
        int chunks = (b * h + Math.Min(headsPerChunk, b * h) - 1) / Math.Min(headsPerChunk, b * h);
        Assert.That(DeviceGemm.Calls - before, Is.EqualTo(2L * chunks), "the GEMM-form forward ran two GEMMs per chunk");
        Compare(gemm, reference, "gemm forward, row backward");

        // Both in the GEMM form.
        EngineOps.AttentionBackward = GemmForm.Gemm;
        EngineOps.AttentionBackwardChunkElements = (long)headsPerChunk * t * t;
        Compare(Run(b, h, t, d, keep, causal, scale), reference, "gemm forward, gemm backward");

        // Rows that see no key: output exactly 0 in both forms.
        for (int i = 0; i < reference.O.Length; i++)
            if (reference.O[i] == 0f) Assert.That(gemm.O[i], Is.EqualTo(0f), $"o[{i}]");
        Assert.That(reference.O.Count(x => x == 0f), emptyRows ? Is.GreaterThan(0) : Is.EqualTo(0), "the case has the empty rows it names");
    }

    [TestCase(1, 3, 37, 16, false, 0, 0, 2, TestName = "GemmForwardLse_Bidirectional_Chunk2of3")]
    [TestCase(2, 2, 9, 16, true, 2, -1, 3, TestName = "GemmForwardLse_CausalPadded_EmptyRows_Chunk3of4")]
    [TestCase(2, 3, 31, 7, false, 3, -1, 4, TestName = "GemmForwardLse_Padded_OddTD_Chunk4of6")]
    public void GemmForward_LseEqualsTheRowKernel(int b, int h, int t, int d, bool causal, int pad0, int pad1, int headsPerChunk)
    {
        float[] keepData = Keep(b, t, pad0, pad1);
        float scale = 1f / MathF.Sqrt(d);
        int n = b * h * t * d, rows = b * h * t;
        using Tensor q = Tensor.FromArray(Normal(n, 1), [b, h, t, d], Simulator);
        using Tensor k = Tensor.FromArray(Normal(n, 2), [b, h, t, d], Simulator);
        using Tensor v = Tensor.FromArray(Normal(n, 3), [b, h, t, d], Simulator);
        using Tensor keep = Tensor.FromArray(keepData, [b, t], Simulator);
        using Tensor oK = Tensor.Empty([b, h, t, d], DType.Float32, Simulator), lseK = Tensor.Empty([b, h, t], DType.Float32, Simulator);
        using Tensor oG = Tensor.Empty([b, h, t, d], DType.Float32, Simulator), lseG = Tensor.Empty([b, h, t], DType.Float32, Simulator);
        EngineOps.AttentionForwardChunkElements = (long)headsPerChunk * t * t;
        Dispatch.Run(Simulator, cpu: () => Assert.Fail("the simulator is an ILGPU device"), ilgpu: s =>
        {
            FlashKernels.AttentionForward.Launch(s, rows, q.View<float>(), k.View<float>(), v.View<float>(), keep.View<float>(),
                oK.View<float>(), lseK.View<float>(), new FlashKernels.FlashArgs(t, d, h * t, causal, scale, default));
            EngineOps.AttentionGemmForward(s, Simulator, b, h, t, d, causal, scale, q.View<float>(), k.View<float>(), v.View<float>(),
                keep.View<float>(), oG.View<float>(), lseG.View<float>());
        });
        float[] lk = lseK.ToFloatArray(), lg = lseG.ToFloatArray();
        for (int r = 0; r < rows; r++)
        {
            if (float.IsPositiveInfinity(lk[r])) Assert.That(lg[r], Is.EqualTo(float.PositiveInfinity), $"lse[{r}] (no visible key)");
            else Assert.That(lg[r], Is.EqualTo(lk[r]).Within(1e-5f * Math.Max(1f, Math.Abs(lk[r]))), $"lse[{r}]");
        }
        Assert.That(lk.Count(float.IsPositiveInfinity), pad1 < 0 || (causal && pad0 > 0) ? Is.GreaterThan(0) : Is.EqualTo(0), "the case has the empty rows it names");
        Assert.That(OpResult.RelativeError(oG.ToFloatArray(), oK.ToFloatArray()), Is.LessThan(1e-5), "o");
    }

    // The warp-per-row softmax (what CUDA runs) against the generated thread-per-row kernel, on the
    // simulator's 32-lane companion: T below and above a multiple of 32, causal rows shorter than a
    // warp, padded keys, rows with no visible key, and a chunk whose rows leave warps of the last group idle.
    [TestCase(1, 3, 37, 16, false, 0, 0, 2, TestName = "WarpSoftmax_Bidirectional_T37_Chunk2of3")]
    [TestCase(2, 2, 9, 16, true, 2, -1, 3, TestName = "WarpSoftmax_CausalPadded_EmptyRows_Chunk3of4")]
    [TestCase(2, 3, 70, 8, true, 3, 4, 4, TestName = "WarpSoftmax_CausalPadded_T70_Chunk4of6")]
    public void GemmForward_WarpSoftmaxRowsEqualTheThreadRows(int b, int h, int t, int d, bool causal, int pad0, int pad1, int headsPerChunk)
    {
        float[] keepData = Keep(b, t, pad0, pad1);
        float scale = 1f / MathF.Sqrt(d);
        int n = b * h * t * d;
        using Tensor q = Tensor.FromArray(Normal(n, 1), [b, h, t, d], Simulator);
        using Tensor k = Tensor.FromArray(Normal(n, 2), [b, h, t, d], Simulator);
        using Tensor v = Tensor.FromArray(Normal(n, 3), [b, h, t, d], Simulator);
        using Tensor keep = Tensor.FromArray(keepData, [b, t], Simulator);
        EngineOps.AttentionForwardChunkElements = (long)headsPerChunk * t * t;
        (float[] O, float[] Lse) Forward(RowForm form)
        {
            EngineOps.AttentionSoftmaxForm = form;
            using Tensor o = Tensor.Empty([b, h, t, d], DType.Float32, Simulator), lse = Tensor.Empty([b, h, t], DType.Float32, Simulator);
            Dispatch.Run(Simulator, cpu: () => Assert.Fail("the simulator is an ILGPU device"), ilgpu: s =>
                EngineOps.AttentionGemmForward(s, Simulator, b, h, t, d, causal, scale, q.View<float>(), k.View<float>(), v.View<float>(),
                    keep.View<float>(), o.View<float>(), lse.View<float>()));
            return (o.ToFloatArray(), lse.ToFloatArray());
        }
        long before = MaMA.Kernels.Attention.AttentionScoresWarp.Launches;
        var thread = Forward(RowForm.Thread);
        Assert.That(MaMA.Kernels.Attention.AttentionScoresWarp.Launches, Is.EqualTo(before), "the thread form launched the warp kernel");
        var warp = Forward(RowForm.Warp);
        int chunks = (b * h + headsPerChunk - 1) / headsPerChunk;
        Assert.That(MaMA.Kernels.Attention.AttentionScoresWarp.Launches - before, Is.EqualTo(chunks), "one warp launch per chunk");
        for (int r = 0; r < thread.Lse.Length; r++)
        {
            if (float.IsPositiveInfinity(thread.Lse[r])) Assert.That(warp.Lse[r], Is.EqualTo(float.PositiveInfinity), $"lse[{r}] (no visible key)");
            else Assert.That(warp.Lse[r], Is.EqualTo(thread.Lse[r]).Within(1e-6f * Math.Max(1f, Math.Abs(thread.Lse[r]))), $"lse[{r}]");
        }
        Assert.That(thread.Lse.Count(float.IsPositiveInfinity), pad1 < 0 || (causal && pad0 > 0) ? Is.GreaterThan(0) : Is.EqualTo(0), "the case has the empty rows it names");
        Assert.That(OpResult.RelativeError(warp.O, thread.O), Is.LessThan(1e-6), "o");
        for (int i = 0; i < thread.O.Length; i++)
            if (thread.O[i] == 0f) Assert.That(warp.O[i], Is.EqualTo(0f), $"o[{i}] of a row with no visible key");
    }

    private static float[] Keep(int b, int t, int pad0, int pad1)
    {
        float[] keep = new float[b * t];
        for (int j = 0; j < t; j++)
        {
            keep[j] = j >= pad0 ? 1f : 0f;
            if (b > 1) keep[t + j] = pad1 < 0 ? 0f : (j < t - pad1 ? 1f : 0f);
        }
        return keep;
    }

    private static float[] Normal(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => OpData.Normal(rng)).ToArray();
    }

    private static void Compare((float[] O, float[] Dq, float[] Dk, float[] Dv) actual, (float[] O, float[] Dq, float[] Dk, float[] Dv) expected, string what)
    {
        Assert.That(OpResult.RelativeError(actual.O, expected.O), Is.LessThan(1e-5), $"o ({what})");
        Assert.That(OpResult.RelativeError(actual.Dq, expected.Dq), Is.LessThan(1e-5), $"dq ({what})");
        Assert.That(OpResult.RelativeError(actual.Dk, expected.Dk), Is.LessThan(1e-5), $"dk ({what})");
        Assert.That(OpResult.RelativeError(actual.Dv, expected.Dv), Is.LessThan(1e-5), $"dv ({what})");
        for (int i = 0; i < expected.Dq.Length; i++)
        {
            if (expected.Dq[i] == 0f) Assert.That(actual.Dq[i], Is.EqualTo(0f), $"dq[{i}] ({what})");
            if (expected.Dk[i] == 0f && expected.Dv[i] == 0f) Assert.That((actual.Dk[i], actual.Dv[i]), Is.EqualTo((0f, 0f)), $"dk/dv[{i}] ({what})");
        }
    }

    private static (float[] O, float[] Dq, float[] Dk, float[] Dv) Run(int b, int h, int t, int d, float[] keep, bool causal, float scale)
    {
        int n = b * h * t * d;
        Tensor Make(int seed)
        {
            Tensor x = Tensor.FromArray(Normal(n, seed), [b, h, t, d], Simulator);
            x.RequiresGrad = true;
            return x;
        }
        Tensor q = Make(1), k = Make(2), v = Make(3);
        Tensor dy = Tensor.FromArray(Normal(n, 4), [b, h, t, d], Simulator);
        Tensor y = EngineOps.Attention(q, k, v, Tensor.FromArray(keep, [b, t], Simulator), causal, scale);
        float[] o = y.ToFloatArray();
        y.Backward(dy);
        return (o, q.Grad!.ToFloatArray(), k.Grad!.ToFloatArray(), v.Grad!.ToFloatArray());
    }
}
