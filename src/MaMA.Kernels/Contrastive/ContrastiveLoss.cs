using ILGPU;

namespace MaMA.Kernels.Contrastive;

/// <summary>
/// The symmetric contrastive cross-entropies of MaMA (SPEC 6) as one kernel family: the CLIP
/// image-text loss and the NT-Xent inter-view loss are both "rows and columns of one similarity
/// matrix", the inter-view loss with two extra self-similarity blocks.
/// <para>
/// <c>sim</c> is [blocks, n, n] of unscaled similarities, logits are <c>s * sim</c> (s &gt; 0):
/// block 0 is the cross matrix X = left right^T; with blocks == 3, block 1 is A = left left^T and
/// block 2 is Z = right right^T (both symmetric, their diagonals never used).
/// Left row r has the logits {s X[r, j]} (and {s A[r, j], j != r}); right row r has
/// {s X[j, r]} = column r of X (and {s Z[r, j], j != r}); both target s X[r, r].
/// CLIP(v, t): left = v, right = t, blocks = 1, inv = 1/n (CE(sS) + CE(sS^T)).
/// NT-Xent: left = z0, right = z1, blocks = 3, s = 1/tau, inv = 1/(2n): right rows are [Y | Z]
/// with Y = X^T, so Y is never formed.
/// </para>
/// <para>
/// lse [2n]: lse[r] for left row r, lse[n + r] for right row r. The scale is
/// s = exp(logScale[0]) when useLogScale != 0 (CLIP's learnable log-scale, read on the device),
/// else fixedScale.
/// </para>
/// </summary>
public static partial class ContrastiveLoss
{
    /// <summary>
    /// Per r: both log-sum-exps (left row r, right row r), the two loss terms and the two
    /// softmax-weighted means of the unscaled similarities the scale gradient needs:
    /// partial[r] = (lse_left - s X[r,r]) + (lse_right - s X[r,r]),
    /// partial[n + r] = (sum_j p_left(j) sim_j - X[r,r]) + (sum_j p_right(j) sim_j - X[r,r]).
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void StatsKernel(int r, [Extent("(long)blocks * n * n")] ArrayView<float> sim, [Extent("1")] ArrayView<float> logScale,
        [Extent("2 * n")] ArrayView<float> lse, [Extent("2 * n")] ArrayView<float> partial, int n, int blocks, float fixedScale, int useLogScale)
    {
        float s = useLogScale != 0 ? MathF.Exp(logScale[0]) : fixedScale;
        long nn = (long)n * n;
        float diag = sim[(long)r * n + r];
        float meanLeft = Side(sim, lse, r, (long)r * n, 1, blocks == 3 ? nn + (long)r * n : -1, r, n, s);
        float meanRight = Side(sim, lse, n + r, r, n, blocks == 3 ? 2 * nn + (long)r * n : -1, r, n, s);
        partial[r] = (lse[r] - s * diag) + (lse[n + r] - s * diag);
        partial[n + r] = (meanLeft - diag) + (meanRight - diag);
    }

    /// <summary>
    /// loss[0] = inv * sum_r partial[r]; scaleGrad[0] = s * inv * sum_r partial[n + r], the
    /// derivative of the loss with respect to the log-scale (d/d log s = s d/ds, and
    /// d lse / ds = softmax-weighted mean of the unscaled row). One index.
    /// </summary>
    [Kernel(CpuGrain = 1)]
    private static void ReduceKernel(int i, [Extent("2 * n")] ArrayView<float> partial, [Extent("1")] ArrayView<float> logScale, [Extent("1")] ArrayView<float> loss,
        [Extent("1")] ArrayView<float> scaleGrad, int n, float inv, float fixedScale, int useLogScale)
    {
        float s = useLogScale != 0 ? MathF.Exp(logScale[0]) : fixedScale;
        float sumLoss = 0f, carryLoss = 0f, sumScale = 0f, carryScale = 0f;
        for (int r = 0; r < n; r++)
        {
            float a = partial[r] - carryLoss;
            float t = sumLoss + a;
            carryLoss = CompensatedSum.Carry(t, sumLoss, a);
            sumLoss = t;
            float b = partial[n + r] - carryScale;
            float u = sumScale + b;
            carryScale = CompensatedSum.Carry(u, sumScale, b);
            sumScale = u;
        }
        loss[i] = inv * sumLoss;
        scaleGrad[i] = s * inv * sumScale;
    }

    /// <summary>
    /// The gradient with respect to the unscaled similarities, per element of [blocks, n, n]:
    /// with c = dy s inv and e(x, k) = exp(s x - lse[k]),
    /// X block: c (e(X[r,j], r) + e(X[r,j], n + j) - 2 [r == j]) (left row r holds X[r,j], right row j holds it too);
    /// A block: c (e(A[r,j], r) + e(A[r,j], j)) for j != r, else 0 (A[r,j] and A[j,r] are one product, so both left rows count);
    /// Z block: c (e(Z[r,j], n + r) + e(Z[r,j], n + j)) for j != r, else 0.
    /// Index 0 also writes dLogScale[0] = dy * scaleGrad when useLogScale != 0.
    /// </summary>
    [Kernel]
    private static void GradientKernel(int i, [Extent("count")] ArrayView<float> sim, [Extent("1")] ArrayView<float> logScale, [Extent("2 * n")] ArrayView<float> lse,
        [Extent("1")] ArrayView<float> dy, [Extent("1")] ArrayView<float> scaleGrad, [Extent("count")] ArrayView<float> grad, [Extent("1")] ArrayView<float> dLogScale,
        int n, float inv, float fixedScale, int useLogScale)
    {
        float s = useLogScale != 0 ? MathF.Exp(logScale[0]) : fixedScale;
        long nn = (long)n * n;
        int block = (int)(i / nn);
        int rest = (int)(i - block * nn);
        int r = rest / n;
        int j = rest - r * n;
        float x = s * sim[i];
        float g;
        if (block == 0)
            g = MathF.Exp(x - lse[r]) + MathF.Exp(x - lse[n + j]) - (r == j ? 2f : 0f);
        else if (r == j)
            g = 0f;
        else if (block == 1)
            g = MathF.Exp(x - lse[r]) + MathF.Exp(x - lse[j]);
        else
            g = MathF.Exp(x - lse[n + r]) + MathF.Exp(x - lse[n + j]);
        float d = dy[0];
        grad[i] = d * s * inv * g;
        if (i == 0 && useLogScale != 0) dLogScale[0] = d * scaleGrad[0];
    }

    /// <summary>
    /// One logit row made of a cross part sim[crossStart + j * crossStride] (j &lt; n) and, when
    /// selfStart &gt;= 0, a self part sim[selfStart + j] (j != skip), all times s: writes its
    /// log-sum-exp to lse[slot] and returns the softmax-weighted mean of the unscaled values.
    /// </summary>
    [DeviceFunction]
    private static float Side(ArrayView<float> sim, ArrayView<float> lse, int slot, long crossStart, long crossStride, long selfStart, int skip, int n, float s)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < n; j++)
        {
            float v = sim[crossStart + j * crossStride];
            if (v > max) max = v;
        }
        if (selfStart >= 0)
            for (int j = 0; j < n; j++)
            {
                float v = sim[selfStart + j];
                if (j != skip && v > max) max = v;
            }
        // s > 0, so the largest logit is s * max.
        float m = s * max;
        float sum = 0f, weighted = 0f;
        for (int j = 0; j < n; j++)
        {
            float v = sim[crossStart + j * crossStride];
            float e = MathF.Exp(s * v - m);
            sum += e;
            weighted += e * v;
        }
        if (selfStart >= 0)
            for (int j = 0; j < n; j++)
            {
                if (j == skip) continue;
                float v = sim[selfStart + j];
                float e = MathF.Exp(s * v - m);
                sum += e;
                weighted += e * v;
            }
        lse[slot] = m + MathF.Log(sum);
        return weighted / sum;
    }
}
