using ILGPU;
using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using ScoreKernels = MaMA.Kernels.Attention.AttentionScores;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// The attention backward on ILGPU devices. <see cref="GemmForm.Auto"/> (the default)
    /// picks the GEMM form on GPUs (<see cref="GemmForm"/>): on an H200 the per-row kernels took 582 ms for the
    /// ViT shape where PyTorch takes 0.4 ms (docs/benchmarks.md). Tests set the GEMM form to check
    /// it on the CPU simulator.
    /// </summary>
    public static GemmForm AttentionBackward { get; set; } = GemmForm.Auto;

    /// <summary>Score elements one chunk of heads may hold, per buffer (two buffers: 256 MB together; tests make it small).</summary>
    internal static long AttentionBackwardChunkElements { get; set; } = 32L << 20;

    /// <summary>Heads whose [T, T] score matrices fit <paramref name="elements"/> (at least one, at most all): the GEMM forms' chunk.</summary>
    private static int HeadsPerChunk(long elements, int t, int totalHeads) => (int)Math.Clamp(elements / Math.Max(1, (long)t * t), 1, totalHeads);

    /// <summary>
    /// dq, dk, dv [B, H, T, D] from q, k, v, the keep mask [B, T], lse and delta [B H T] (delta from
    /// FlashAttention.AttentionRowDot, launched by the caller) and the
    /// output gradient g, as FlashAttention-2's backward but with its products as batched GEMMs over
    /// a chunk of heads at a time. Per chunk (c heads, scores [c, T, T], the "backward recomputes"
    /// of the design: P is rebuilt from q, k and lse, never saved by the forward):
    /// S = Q K^T, P = exp(scale S - L) on the visible pairs, dP = dO V^T, dS = scale P (dP - delta),
    /// dV = P^T dO, dQ = dS K, dK = dS^T Q. With <paramref name="dropout"/> (z: the forward's factors),
    /// dS = scale P (dP z - delta) and dV = (P z)^T dO. The chunk is sized so that its two score buffers stay
    /// within <see cref="AttentionBackwardChunkElements"/> elements each.
    /// </summary>
    private static void AttentionGemmBackward(AcceleratorStream s, Device device, int batch, int heads, int t, int d, bool causal, float scale,
        ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> keep, ArrayView<float> lse, ArrayView<float> delta,
        ArrayView<float> g, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv, MaMA.Kernels.Random.DropoutMask dropout = default)
    {
        int totalHeads = batch * heads;
        long tt = (long)t * t, td = (long)t * d;
        int chunk = HeadsPerChunk(AttentionBackwardChunkElements, t, totalHeads);
        using Tensor scores = Tensor.Empty([chunk, t, t], DType.Float32, device);
        using Tensor grads = Tensor.Empty([chunk, t, t], DType.Float32, device);
        for (int h0 = 0; h0 < totalHeads; h0 += chunk)
        {
            int c = Math.Min(chunk, totalHeads - h0);
            long rows = (long)h0 * td, span = c * td;
            ArrayView<float> qc = q.SubView(rows, span), kc = k.SubView(rows, span), vc = v.SubView(rows, span), gc = g.SubView(rows, span);
            ArrayView<float> p = scores.View<float>().SubView(0, c * tt), ds = grads.View<float>().SubView(0, c * tt);
            int count = checked((int)(c * tt));
            // S = Q K^T (K^T: row stride 1, column stride D), then P in place.
            DeviceGemm.Run(s, c, t, t, d, qc, td, d, 1, kc, td, 1, d, p);
            ScoreKernels.Probabilities.Launch(s, count, p, keep, lse, t, heads, h0, causal ? 1 : 0, scale);
            // dP = dO V^T, then dS in place; with dropout dS = scale P (dP z - delta), and P z for dV.
            DeviceGemm.Run(s, c, t, t, d, gc, td, d, 1, vc, td, 1, d, ds);
            DropInPlace(s, ds, dropout, h0 * tt);
            ScoreKernels.ScoreGradient.Launch(s, count, p, ds, delta, t, h0, scale);
            DropInPlace(s, p, dropout, h0 * tt);
            // dV = P^T dO, dQ = dS K, dK = dS^T Q (a transposed score matrix: row stride 1, column stride T).
            DeviceGemm.Run(s, c, t, d, t, p, tt, 1, t, gc, td, d, 1, dv.SubView(rows, span));
            DeviceGemm.Run(s, c, t, d, t, ds, tt, t, 1, kc, td, d, 1, dq.SubView(rows, span));
            DeviceGemm.Run(s, c, t, d, t, ds, tt, 1, t, qc, td, d, 1, dk.SubView(rows, span));
        }
    }
}
