using ILGPU;
using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Attention;
using ScoreKernels = MaMA.Kernels.Attention.AttentionScores;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// The fp32 attention forward on ILGPU devices (when the tensor-core path does not take it).
    /// <see cref="GemmForm.Auto"/> (the default) picks the GEMM form on GPUs (<see cref="GemmForm"/>): on an H200
    /// the per-row kernel took 174 ms for the ViT shape (B2 H12 T1374 D64) where PyTorch takes 0.46 ms
    /// (issue #8). Tests set the GEMM form to check it on the CPU simulator.
    /// </summary>
    public static GemmForm AttentionForward { get; set; } = GemmForm.Auto;

    /// <summary>
    /// How the GEMM form's softmax over score rows runs: <see cref="RowForm.Auto"/> (the default) is a
    /// warp per row on CUDA (AttentionScoresWarp: coalesced reads, shuffle reductions), the generated
    /// thread-per-row kernel elsewhere. Tests set <see cref="RowForm.Warp"/> to check the warp kernel on the simulator.
    /// </summary>
    public static RowForm AttentionSoftmaxForm { get; set; } = RowForm.Auto;

    /// <summary>Score elements one chunk of heads may hold (one buffer: 128 MB; tests make it small).</summary>
    internal static long AttentionForwardChunkElements { get; set; } = 32L << 20;

    /// <summary>
    /// o [B, H, T, D] and lse [B H T] from q, k, v [B, H, T, D] and the keep mask [B, T], as the
    /// per-row FlashAttention.AttentionForward gives them (lse = log sum_j exp(scale q_i . k_j) over
    /// the visible keys, +inf and o = 0 for a row that sees none), so that either form of the backward
    /// works from them, but with its products as batched GEMMs over a chunk of heads at a time.
    /// Per chunk (c heads, scores [c, T, T]): S = Q K^T, then the softmax rows (a warp per row on CUDA,
    /// <see cref="AttentionSoftmaxForm"/>) turn each row into probabilities in place and write its lse, then (with
    /// <paramref name="dropout"/>) P z in place, then O = P V. The chunk is sized so that its
    /// score buffer stays within <see cref="AttentionForwardChunkElements"/> elements.
    /// </summary>
    internal static void AttentionGemmForward(AcceleratorStream s, Device device, int batch, int heads, int t, int d, bool causal, float scale,
        ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> keep, ArrayView<float> o, ArrayView<float> lse,
        MaMA.Kernels.Random.DropoutMask dropout = default)
    {
        int totalHeads = batch * heads;
        if (totalHeads == 0 || t == 0) return;
        long tt = (long)t * t, td = (long)t * d;
        int chunk = HeadsPerChunk(AttentionForwardChunkElements, t, totalHeads);
        using Tensor scores = Tensor.Empty([chunk, t, t], DType.Float32, device);
        for (int h0 = 0; h0 < totalHeads; h0 += chunk)
        {
            int c = Math.Min(chunk, totalHeads - h0);
            long rows = (long)h0 * td, span = c * td;
            ArrayView<float> qc = q.SubView(rows, span), kc = k.SubView(rows, span), vc = v.SubView(rows, span);
            ArrayView<float> p = scores.View<float>().SubView(0, c * tt);
            // S = Q K^T (K^T: row stride 1, column stride D), then P and lse row by row.
            DeviceGemm.Run(s, c, t, t, d, qc, td, d, 1, kc, td, 1, d, p);
            if (AttentionSoftmaxForm.UsesWarp(s))
                AttentionScoresWarp.SoftmaxRows(s, p, keep, lse, checked(c * t), t, heads, h0, causal, scale);
            else
                ScoreKernels.SoftmaxRows.Launch(s, checked(c * t), p, keep, lse, t, heads, h0, causal ? 1 : 0, scale);
            // Dropout (training): P z, the chunk being probabilities h0 T T .. of [B, H, T, T]; lse keeps the undropped sums.
            DropInPlace(s, p, dropout, h0 * tt);
            // O = P V.
            DeviceGemm.Run(s, c, t, d, t, p, tt, t, 1, vc, td, d, 1, o.SubView(rows, span));
        }
    }
}
