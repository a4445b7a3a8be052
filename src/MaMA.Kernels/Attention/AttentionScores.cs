using ILGPU;

namespace MaMA.Kernels.Attention;

/// <summary>
/// The element-wise steps of the attention backward when its products run as batched GEMMs
/// (MaMA.Engine's AttentionGemmBackward): a chunk of heads at a time holds its score matrices
/// [heads in chunk, T, T], recomputed from q, k and the forward's log-sum-exp, never all heads at once.
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
        long tt = (long)t * t;
        long head = firstHead + idx / tt;
        int i = (int)(idx / t % t), j = idx % t;
        float l = lse[firstHead * (long)t + idx / t];
        bool visible = keep[head / heads * t + j] != 0f && (causal == 0 || j <= i) && l != float.PositiveInfinity;
        s[idx] = visible ? MathF.Exp(scale * s[idx] - l) : 0f;
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
