using ILGPU;
using MaMA.Kernels.Random;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Attention;

/// <summary>
/// Scaled dot-product attention over contiguous fp32 [B, H, T, D] buffers seen as rows
/// [B * H * T, D], flash style: the forward keeps an online softmax (running max m, running sum l,
/// output row rescaled in place when m grows) and saves only the output and the per-row
/// log-sum-exp L = m + log l; the backward recomputes each probability as exp(s - L). Nothing of
/// size T x T exists at any point.
/// <para>
/// Key j is visible to query i when <c>keep[b, j] != 0</c> and, if causal, j &lt;= i. A query row
/// that sees no key gets output 0 and L = +inf (PyTorch gives NaN there), and zero gradients.
/// </para>
/// <para>
/// <c>drop</c>: dropout on the probabilities (<see cref="DropoutMask"/>; off: factor 1). Probability
/// (row r, key j) is element r T + j of [B, H, T, T] and gets factor z = drop.Factor(r T + j): the
/// output sums p z v (the row sum l and L keep the undropped p), dV sums p z dO, and
/// dS = p (z dO . v - delta) scale.
/// </para>
/// These are the ILGPU kernels (one launch index per query row, or per key row for dK/dV; the
/// D-length accumulators live in the output rows themselves). The fast CPU backend uses the
/// blocked SIMD twin in <c>Cpu/AttentionCpu.cs</c>; tiling these kernels in shared memory is a
/// GPU-speed matter left for later.
/// </summary>
public static partial class FlashAttention
{
    /// <summary>
    /// The per-row kernels' shape and options (one kernel parameter): T, D, H T (rows per batch
    /// element, for the keep row), causal (1) or not (0), the score multiplier and the probabilities'
    /// dropout (<see cref="DropoutMask.Off"/>: none).
    /// </summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    public struct FlashArgs
    {
        public int T, D, HeadsTimesT, Causal;
        public float Scale;
        public DropoutMask Dropout;

        public FlashArgs(int t, int d, int headsTimesT, bool causal, float scale, DropoutMask dropout)
        {
            T = t;
            D = d;
            HeadsTimesT = headsTimesT;
            Causal = causal ? 1 : 0;
            Scale = scale;
            Dropout = dropout;
        }
    }

    /// <summary>
    /// o[r] = sum_j softmax_j(scale q_r . k_j) z_rj v_j over the visible keys j of row r, and
    /// lse[r] = log sum_j exp(scale q_r . k_j) (+inf when no key is visible).
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void AttentionForwardKernel(int r,
        [Extent("(long)count * a.D")] ArrayView<float> q, [Extent("(long)count * a.D")] ArrayView<float> k, [Extent("(long)count * a.D")] ArrayView<float> v,
        [Extent("(long)(count / a.HeadsTimesT) * a.T")] ArrayView<float> keep,
        [Extent("(long)count * a.D")] ArrayView<float> o, [Extent("count")] ArrayView<float> lse, FlashArgs a)
    {
        int t = a.T, d = a.D, headsTimesT = a.HeadsTimesT, causal = a.Causal;
        float scale = a.Scale;
        DropoutMask drop = a.Dropout;
        int i = r % t;
        long head = r - i;
        long keepRow = (long)(r / headsTimesT) * t;
        long qo = (long)r * d;
        Fill(o, qo, 0f, d);
        float m = float.NegativeInfinity, l = 0f;
        int end = causal != 0 ? i + 1 : t;
        for (int j = 0; j < end; j++)
        {
            if (keep[keepRow + j] == 0f) continue;
            long ko = (head + j) * d;
            float s = scale * Dot(q, qo, k, ko, d);
            if (s > m)
            {
                // The running max grows: rescale what was accumulated (nothing yet when l == 0).
                if (l > 0f)
                {
                    float corr = MathF.Exp(m - s);
                    l *= corr;
                    Scale(o, qo, corr, d);
                }
                m = s;
            }
            float p = MathF.Exp(s - m);
            l += p;
            Axpy(o, qo, p * drop.Factor((long)r * t + j), v, ko, d);
        }
        if (l > 0f)
        {
            Scale(o, qo, 1f / l, d);
            lse[r] = m + MathF.Log(l);
        }
        else
        {
            lse[r] = float.PositiveInfinity;
        }
    }

    /// <summary>delta[r] = sum_c dO[r, c] o[r, c] (the D_i of the backward).</summary>
    [Kernel(CpuGrain = 64)]
    private static void AttentionRowDotKernel(int r, [Extent("(long)count * d")] ArrayView<float> dO, [Extent("(long)count * d")] ArrayView<float> o,
        [Extent("count")] ArrayView<float> delta, int d)
    {
        long ro = (long)r * d;
        delta[r] = Dot(dO, ro, o, ro, d);
    }

    /// <summary>
    /// delta[b, h, i] = sum_c dO[b, i, h, c] o[b, i, h, c] for bf16 dO and o with the heads joined
    /// ([B, T, H, D], the layout of a joined-heads forward output and its gradient): r runs over the
    /// joined rows (b T + i) H + h, so both reads are contiguous; delta is [B, H, T] as the backward
    /// kernels index it. Products and the sum in fp32, in column order (as <see cref="AttentionRowDotKernel"/>).
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void AttentionRowDotJoinedBf16Kernel(int r, [Extent("(long)count * d")] ArrayView<ushort> dO,
        [Extent("(long)count * d")] ArrayView<ushort> o, [Extent("count")] ArrayView<float> delta, int d, int heads, int t)
    {
        int bt = r / heads, h = r - bt * heads;
        int b = bt / t, i = bt - b * t;
        long ro = (long)r * d;
        float sum = 0f;
        for (int c = 0; c < d; c++) sum += Bf16.ToFloat(dO[ro + c]) * Bf16.ToFloat(o[ro + c]);
        delta[((long)b * heads + h) * t + i] = sum;
    }

    /// <summary>
    /// dq[r] = scale sum_j p_rj (z_rj dO_r . v_j - delta_r) k_j with p_rj = exp(scale q_r . k_j - lse[r]),
    /// over the visible keys of row r.
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void AttentionBackwardQueryKernel(int r,
        [Extent("(long)count * a.D")] ArrayView<float> q, [Extent("(long)count * a.D")] ArrayView<float> k, [Extent("(long)count * a.D")] ArrayView<float> v,
        [Extent("(long)(count / a.HeadsTimesT) * a.T")] ArrayView<float> keep, [Extent("(long)count * a.D")] ArrayView<float> dO,
        [Extent("count")] ArrayView<float> lse, [Extent("count")] ArrayView<float> delta, [Extent("(long)count * a.D")] ArrayView<float> dq,
        FlashArgs a)
    {
        int t = a.T, d = a.D, headsTimesT = a.HeadsTimesT, causal = a.Causal;
        float scale = a.Scale;
        DropoutMask drop = a.Dropout;
        int i = r % t;
        long head = r - i;
        long keepRow = (long)(r / headsTimesT) * t;
        long qo = (long)r * d;
        Fill(dq, qo, 0f, d);
        float li = lse[r];
        if (li == float.PositiveInfinity) return; // no visible key: output 0, gradients 0
        float di = delta[r];
        int end = causal != 0 ? i + 1 : t;
        for (int j = 0; j < end; j++)
        {
            if (keep[keepRow + j] == 0f) continue;
            long ko = (head + j) * d;
            float p = MathF.Exp(scale * Dot(q, qo, k, ko, d) - li);
            float ds = p * (drop.Factor((long)r * t + j) * Dot(dO, qo, v, ko, d) - di) * scale;
            Axpy(dq, qo, ds, k, ko, d);
        }
    }

    /// <summary>
    /// For key row r (key j of its head): dv[r] = sum_i p_ij z_ij dO_i and
    /// dk[r] = scale sum_i p_ij (z_ij dO_i . v_j - delta_i) q_i over the query rows i that see key j.
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void AttentionBackwardKeyKernel(int r,
        [Extent("(long)count * a.D")] ArrayView<float> q, [Extent("(long)count * a.D")] ArrayView<float> k, [Extent("(long)count * a.D")] ArrayView<float> v,
        [Extent("(long)(count / a.HeadsTimesT) * a.T")] ArrayView<float> keep, [Extent("(long)count * a.D")] ArrayView<float> dO,
        [Extent("count")] ArrayView<float> lse, [Extent("count")] ArrayView<float> delta,
        [Extent("(long)count * a.D")] ArrayView<float> dk, [Extent("(long)count * a.D")] ArrayView<float> dv,
        FlashArgs a)
    {
        int t = a.T, d = a.D, headsTimesT = a.HeadsTimesT, causal = a.Causal;
        float scale = a.Scale;
        DropoutMask drop = a.Dropout;
        int j = r % t;
        long head = r - j;
        long ko = (long)r * d;
        Fill(dk, ko, 0f, d);
        Fill(dv, ko, 0f, d);
        if (keep[(long)(r / headsTimesT) * t + j] == 0f) return;
        // A query row that sees key j sees at least one key, so its lse is finite.
        for (int i = causal != 0 ? j : 0; i < t; i++)
        {
            long row = head + i;
            long qo = row * d;
            float p = MathF.Exp(scale * Dot(q, qo, k, ko, d) - lse[row]);
            float z = drop.Factor(row * t + j);
            Axpy(dv, ko, p * z, dO, qo, d);
            float ds = p * (z * Dot(dO, qo, v, ko, d) - delta[row]) * scale;
            Axpy(dk, ko, ds, q, qo, d);
        }
    }

    /// <summary>sum_c a[ao + c] b[bo + c], c &lt; n.</summary>
    [DeviceFunction]
    private static float Dot(ArrayView<float> a, long ao, ArrayView<float> b, long bo, int n)
    {
        float sum = 0f;
        for (int c = 0; c < n; c++) sum += a[ao + c] * b[bo + c];
        return sum;
    }

    /// <summary>y[yo + c] += alpha x[xo + c], c &lt; n.</summary>
    [DeviceFunction]
    private static void Axpy(ArrayView<float> y, long yo, float alpha, ArrayView<float> x, long xo, int n)
    {
        for (int c = 0; c < n; c++) y[yo + c] += alpha * x[xo + c];
    }

    /// <summary>y[yo + c] *= alpha, c &lt; n.</summary>
    [DeviceFunction]
    private static void Scale(ArrayView<float> y, long yo, float alpha, int n)
    {
        for (int c = 0; c < n; c++) y[yo + c] *= alpha;
    }

    /// <summary>y[yo + c] = value, c &lt; n.</summary>
    [DeviceFunction]
    private static void Fill(ArrayView<float> y, long yo, float value, int n)
    {
        for (int c = 0; c < n; c++) y[yo + c] = value;
    }
}
