using ILGPU;

namespace MaMA.Kernels.Attention;

/// <summary>
/// The element-wise and row-wise steps of the attention forward and backward when their products run
/// as batched GEMMs (MaMA.Engine's AttentionGemmForward and AttentionGemmBackward): a chunk of heads at
/// a time holds its score matrices [heads in chunk, T, T] (the backward recomputes them from q, k and
/// the forward's log-sum-exp), never all heads at once.
/// Element idx of a chunk starting at global head <c>firstHead</c> is (head firstHead + idx / (T T),
/// query i = idx / T % T, key j = idx % T); its row in the [B H T] vectors is firstHead T + idx / T.
/// </summary>
public static partial class AttentionScores
{
    /// <summary>
    /// s := p = exp(scale s - lse[row]) where key j is visible to query i (keep[b, j] != 0 and, if
    /// causal, j &lt;= i), else 0; rows that see no key (lse +inf) get 0. In place over the chunk's scores.
    /// </summary>
    [Kernel(CpuGrain = 1024)]
    private static void ProbabilitiesKernel(int idx, [Extent("count")] ArrayView<float> s, ArrayView<float> keep, ArrayView<float> lse,
        int t, int heads, int firstHead, int causal, float scale)
    {
        // 32-bit splits (a chunk holds fewer than 2^31 scores): row of the chunk, key, head, query.
        int row = idx / t, j = idx - row * t;
        int headInChunk = row / t, i = row - headInChunk * t;
        float l = lse[(long)firstHead * t + row];
        bool visible = keep[(long)((firstHead + headInChunk) / heads) * t + j] != 0f && (causal == 0 || j <= i) && l != float.PositiveInfinity;
        s[idx] = visible ? MathF.Exp(scale * s[idx] - l) : 0f;
    }

    /// <summary>
    /// The forward's softmax over the score rows of a chunk, in place: s [chunk heads, T, T] holds
    /// q . k (unscaled, from the GEMM); launch index r is the chunk's row r (head firstHead + r / T,
    /// query i = r % T, row s[r T .. r T + T)), its global row in lse [B H T] is firstHead T + r, its
    /// keep row [B, T] is b = (firstHead + r / T) / heads. Over the keys j visible to query i
    /// (keep[b, j] != 0 and, if causal, j &lt;= i):
    /// lse[row] = m + log sum_j exp(scale s_ij - m) with m = max_j scale s_ij, i.e. log sum_j exp(scale s_ij),
    /// the scale inside, as FlashAttention.AttentionForward saves it; then s_ij := p_ij = exp(scale s_ij - lse)
    /// (the backward's recomputation, exactly), 0 for keys not visible. A row with no visible key gets
    /// lse = +inf and p = 0 throughout, so P V gives it the output 0 of the per-row kernel.
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void SoftmaxRowsKernel(int r, [Extent("(long)count * t")] ArrayView<float> s, ArrayView<float> keep,
        [Extent("(long)firstHead * t + count")] ArrayView<float> lse, int t, int heads, int firstHead, int causal, float scale)
    {
        int i = r % t;
        long start = (long)r * t;
        long keepRow = (firstHead + (long)(r / t)) / heads * t;
        int end = causal != 0 ? i + 1 : t;
        float m = float.NegativeInfinity;
        for (int j = 0; j < end; j++)
        {
            if (keep[keepRow + j] == 0f) continue;
            float v = scale * s[start + j];
            if (v > m) m = v;
        }
        float l = 0f;
        if (m != float.NegativeInfinity)
        {
            for (int j = 0; j < end; j++)
                if (keep[keepRow + j] != 0f) l += MathF.Exp(scale * s[start + j] - m);
        }
        if (l > 0f)
        {
            float lr = m + MathF.Log(l);
            lse[firstHead * (long)t + r] = lr;
            for (int j = 0; j < t; j++)
                s[start + j] = j < end && keep[keepRow + j] != 0f ? MathF.Exp(scale * s[start + j] - lr) : 0f;
        }
        else
        {
            lse[firstHead * (long)t + r] = float.PositiveInfinity;
            for (int j = 0; j < t; j++) s[start + j] = 0f;
        }
    }

    /// <summary>dp := dS = scale p (dp - delta[row]): the score gradient, in place over dO v^T.</summary>
    [Kernel(CpuGrain = 1024)]
    private static void ScoreGradientKernel(int idx, [Extent("count")] ArrayView<float> p, [Extent("count")] ArrayView<float> dp,
        ArrayView<float> delta, int t, int firstHead, float scale)
    {
        float pv = p[idx];
        dp[idx] = pv == 0f ? 0f : scale * pv * (dp[idx] - delta[firstHead * (long)t + idx / t]);
    }
}
