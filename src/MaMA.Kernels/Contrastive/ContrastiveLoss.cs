using ILGPU;
using MaMA.Kernels.Reduction;

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
    /// The statistics of one run of one logit row, i = q * 2n + slot (slot fastest, so the column
    /// reads of the right rows are coalesced): slot r &lt; n is left row r, slot n + r right row r;
    /// a row is its n cross values, then with the self blocks its n self values (the own one
    /// skipped). For run q: part[0] = the run's largest unscaled value (-inf when it is empty),
    /// part[1] = sum exp(s v - s max), part[2] = sum exp(s v - s max) v, each [parts, 2n].
    /// One thread per row walked all of it before: n = 288 threads for a whole card, each through
    /// 1,152 (CLIP) or 2,304 (NT-Xent) dependent loads. count = parts * 2n.
    /// </summary>
    [Kernel(CpuGrain = 16)]
    private static void StatsPartKernel(int i, [Extent("(long)blocks * n * n")] ArrayView<float> sim, [Extent("1")] ArrayView<float> logScale,
        [Extent("3L * count")] ArrayView<float> part, int n, int blocks, int parts, float fixedScale, int useLogScale)
    {
        float s = useLogScale != 0 ? MathF.Exp(logScale[0]) : fixedScale;
        long nn = (long)n * n;
        int slot = i % (2 * n);
        int q = i / (2 * n);
        bool left = slot < n;
        int r = left ? slot : slot - n;
        long crossStart = left ? (long)r * n : r, crossStride = left ? 1 : n;
        long selfStart = blocks == 3 ? (left ? nn : 2 * nn) + (long)r * n : -1;
        int length = blocks == 3 ? 2 * n : n;
        int j0 = Runs.Start(length, parts, q), j1 = Runs.End(length, parts, q);
        float max = float.NegativeInfinity;
        for (int j = j0; j < j1; j++)
        {
            float v = j < n ? sim[crossStart + j * crossStride] : sim[selfStart + (j - n)];
            if (j - n != r && v > max) max = v;
        }
        // s > 0, so the run's largest logit is s * max; an empty run adds nothing.
        float m = s * max;
        float sum = 0f, weighted = 0f;
        for (int j = j0; j < j1; j++)
        {
            if (j - n == r) continue;
            float v = j < n ? sim[crossStart + j * crossStride] : sim[selfStart + (j - n)];
            float e = MathF.Exp(s * v - m);
            sum += e;
            weighted += e * v;
        }
        long count = (long)parts * 2 * n;
        part[i] = max;
        part[count + i] = sum;
        part[2 * count + i] = weighted;
    }

    /// <summary>
    /// Per r: both log-sum-exps (left row r, right row r) from their runs (<see cref="StatsPartKernel"/>,
    /// merged as online softmax merges blocks: each run's sums times exp(s max_q - s max)), the
    /// two loss terms and the two softmax-weighted means of the unscaled similarities the scale
    /// gradient needs:
    /// partial[r] = (lse_left - s X[r,r]) + (lse_right - s X[r,r]),
    /// partial[n + r] = (sum_j p_left(j) sim_j - X[r,r]) + (sum_j p_right(j) sim_j - X[r,r]).
    /// count = n.
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void StatsKernel(int r, [Extent("(long)blocks * n * n")] ArrayView<float> sim, [Extent("1")] ArrayView<float> logScale,
        [Extent("6L * parts * n")] ArrayView<float> part, [Extent("2 * n")] ArrayView<float> lse, [Extent("2 * n")] ArrayView<float> partial,
        int n, int blocks, int parts, float fixedScale, int useLogScale)
    {
        float s = useLogScale != 0 ? MathF.Exp(logScale[0]) : fixedScale;
        float diag = sim[(long)r * n + r];
        float meanLeft = Merge(part, lse, r, n, parts, s);
        float meanRight = Merge(part, lse, n + r, n, parts, s);
        partial[r] = (lse[r] - s * diag) + (lse[n + r] - s * diag);
        partial[n + r] = (meanLeft - diag) + (meanRight - diag);
    }

    /// <summary>
    /// One run of one of the two sums over r (<see cref="Runs"/>), i = which * parts + q:
    /// runSum[i] = the compensated sum of partial[which * n + r] over run q's r (which 0: the loss
    /// terms, 1: the scale-gradient terms). One thread summed all 2n before: n = 288 dependent loads
    /// on one thread of a whole card, after the statistics had spread over thousands. count = 2 * parts.
    /// </summary>
    [Kernel(CpuGrain = 1)]
    private static void ReducePartKernel(int i, [Extent("2 * n")] ArrayView<float> partial, [Extent("2 * parts")] ArrayView<float> runSum, int n, int parts)
    {
        int which = i / parts, q = i - which * parts;
        int end = Runs.End(n, parts, q);
        long row = (long)which * n;
        float sum = 0f, carry = 0f;
        for (int r = Runs.Start(n, parts, q); r < end; r++)
        {
            float a = partial[row + r] - carry;
            float t = sum + a;
            carry = CompensatedSum.Carry(t, sum, a);
            sum = t;
        }
        runSum[i] = sum - carry;
    }

    /// <summary>
    /// loss[0] = inv * sum_r partial[r]; scaleGrad[0] = s * inv * sum_r partial[n + r], the
    /// derivative of the loss with respect to the log-scale (d/d log s = s d/ds, and
    /// d lse / ds = softmax-weighted mean of the unscaled row), from the runs'
    /// sums (<see cref="ReducePartKernel"/>) added in run order with compensation. One index.
    /// </summary>
    [Kernel(CpuGrain = 1)]
    private static void ReduceKernel(int i, [Extent("2 * parts")] ArrayView<float> runSum, [Extent("1")] ArrayView<float> logScale, [Extent("1")] ArrayView<float> loss,
        [Extent("1")] ArrayView<float> scaleGrad, int parts, float inv, float fixedScale, int useLogScale)
    {
        float s = useLogScale != 0 ? MathF.Exp(logScale[0]) : fixedScale;
        float sumLoss = 0f, carryLoss = 0f, sumScale = 0f, carryScale = 0f;
        for (int q = 0; q < parts; q++)
        {
            float a = runSum[q] - carryLoss;
            float t = sumLoss + a;
            carryLoss = CompensatedSum.Carry(t, sumLoss, a);
            sumLoss = t;
            float b = runSum[parts + q] - carryScale;
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
    /// Row <paramref name="slot"/>'s runs merged in order: lse[slot] = s M + log S with M the largest
    /// value, S = sum_q S_q exp(s max_q - s M); returns W / S, the softmax-weighted mean of the
    /// unscaled values. A NaN value makes its run's sums NaN and so the row's, as one pass did.
    /// </summary>
    [DeviceFunction]
    private static float Merge(ArrayView<float> part, ArrayView<float> lse, int slot, int n, int parts, float s)
    {
        long count = (long)parts * 2 * n;
        float max = float.NegativeInfinity;
        for (int q = 0; q < parts; q++)
        {
            float v = part[(long)q * 2 * n + slot];
            if (v > max) max = v;
        }
        float m = s * max;
        float sum = 0f, weighted = 0f;
        for (int q = 0; q < parts; q++)
        {
            // An empty run (max -inf, sums 0) adds 0; a run of NaN (max -inf, sums NaN) adds NaN.
            long at = (long)q * 2 * n + slot;
            float f = MathF.Exp(s * part[at] - m);
            sum += part[count + at] * f;
            weighted += part[2 * count + at] * f;
        }
        lse[slot] = m + MathF.Log(sum);
        return weighted / sum;
    }
}
