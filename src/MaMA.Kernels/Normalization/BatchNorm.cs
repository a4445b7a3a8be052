using ILGPU;

namespace MaMA.Kernels.Normalization;

/// <summary>
/// Batch normalisation over a contiguous [n, c, l] buffer (BatchNorm1d: [N, C] is l = 1), statistics
/// per channel over the m = n * l values of that channel. Per-channel kernels take one launch index
/// per channel and sum in fp32 with Kahan compensation (two-pass variance). Weight and bias are
/// optional: with <c>hasWeight</c>/<c>hasBias</c> 0 the view is never read (pass any view).
/// </summary>
public static partial class BatchNorm
{
    /// <summary>
    /// Training (<c>training</c> 1): mean[ch] and rstd[ch] = 1/sqrt(var + eps) from the batch (biased
    /// variance); when <c>updateRunning</c> is 1 the running stats move towards the batch mean and the
    /// unbiased variance with <c>momentum</c> (PyTorch semantics). Evaluation: mean and rstd from the
    /// running stats.
    /// </summary>
    [Kernel(CpuGrain = 1)]
    private static void StatsKernel(int ch, [Extent("training != 0 ? (long)n * c * l : 0")] ArrayView<float> x,
        [Extent("count")] ArrayView<float> mean, [Extent("count")] ArrayView<float> rstd,
        [Extent("count")] ArrayView<float> runningMean, [Extent("count")] ArrayView<float> runningVar,
        int n, int c, int l, float eps, float momentum, int training, int updateRunning)
    {
        if (training == 0)
        {
            mean[ch] = runningMean[ch];
            rstd[ch] = 1f / MathF.Sqrt(runningVar[ch] + eps);
            return;
        }
        float sum = 0f, carry = 0f;
        for (int b = 0; b < n; b++)
        {
            long start = ((long)b * c + ch) * l;
            for (int j = 0; j < l; j++)
            {
                float v = x[start + j] - carry;
                float t = sum + v;
                carry = CompensatedSum.Carry(t, sum, v);
                sum = t;
            }
        }
        long m = (long)n * l;
        float mu = sum / m;
        float sq = 0f;
        carry = 0f;
        for (int b = 0; b < n; b++)
        {
            long start = ((long)b * c + ch) * l;
            for (int j = 0; j < l; j++)
            {
                float d = x[start + j] - mu;
                float v = d * d - carry;
                float t = sq + v;
                carry = CompensatedSum.Carry(t, sq, v);
                sq = t;
            }
        }
        float variance = sq / m;
        mean[ch] = mu;
        rstd[ch] = 1f / MathF.Sqrt(variance + eps);
        if (updateRunning != 0)
        {
            float unbiased = m > 1 ? sq / (m - 1) : variance;
            runningMean[ch] = (1f - momentum) * runningMean[ch] + momentum * mu;
            runningVar[ch] = (1f - momentum) * runningVar[ch] + momentum * unbiased;
        }
    }

    /// <summary>y = (x - mean[ch]) * rstd[ch] * weight[ch] + bias[ch], ch = (i / l) % c.</summary>
    [Kernel]
    private static void ForwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> y,
        [Extent("c")] ArrayView<float> mean, [Extent("c")] ArrayView<float> rstd,
        [Extent("hasWeight != 0 ? c : 0")] ArrayView<float> weight, [Extent("hasBias != 0 ? c : 0")] ArrayView<float> bias,
        int c, int l, int hasWeight, int hasBias)
    {
        int ch = (i / l) % c;
        float v = (x[i] - mean[ch]) * rstd[ch];
        if (hasWeight != 0) v *= weight[ch];
        if (hasBias != 0) v += bias[ch];
        y[i] = v;
    }

    /// <summary>Per channel: sumDy[ch] = sum dy (the bias gradient), sumDyXhat[ch] = sum dy * xhat (the weight gradient).</summary>
    [Kernel(CpuGrain = 1)]
    private static void ReduceGradKernel(int ch, [Extent("(long)n * c * l")] ArrayView<float> x, [Extent("(long)n * c * l")] ArrayView<float> dy,
        [Extent("count")] ArrayView<float> mean, [Extent("count")] ArrayView<float> rstd,
        [Extent("count")] ArrayView<float> sumDy, [Extent("count")] ArrayView<float> sumDyXhat, int n, int c, int l)
    {
        float mu = mean[ch], rs = rstd[ch];
        float s1 = 0f, c1 = 0f, s2 = 0f, c2 = 0f;
        for (int b = 0; b < n; b++)
        {
            long start = ((long)b * c + ch) * l;
            for (int j = 0; j < l; j++)
            {
                float g = dy[start + j];
                float v1 = g - c1;
                float t1 = s1 + v1;
                c1 = CompensatedSum.Carry(t1, s1, v1);
                s1 = t1;
                float v2 = g * (x[start + j] - mu) * rs - c2;
                float t2 = s2 + v2;
                c2 = CompensatedSum.Carry(t2, s2, v2);
                s2 = t2;
            }
        }
        sumDy[ch] = s1;
        sumDyXhat[ch] = s2;
    }

    /// <summary>
    /// dx = weight * rstd * (dy - sumDy / m - xhat * sumDyXhat / m) in training (the batch statistics
    /// depend on x), dx = weight * rstd * dy in evaluation.
    /// </summary>
    [Kernel]
    private static void BackwardInputKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> dy, [Extent("count")] ArrayView<float> dx,
        [Extent("c")] ArrayView<float> mean, [Extent("c")] ArrayView<float> rstd, [Extent("hasWeight != 0 ? c : 0")] ArrayView<float> weight,
        [Extent("training != 0 ? c : 0")] ArrayView<float> sumDy, [Extent("training != 0 ? c : 0")] ArrayView<float> sumDyXhat,
        int c, int l, int m, int hasWeight, int training)
    {
        int ch = (i / l) % c;
        float rs = rstd[ch];
        float scale = hasWeight != 0 ? weight[ch] * rs : rs;
        if (training == 0)
        {
            dx[i] = scale * dy[i];
            return;
        }
        float invM = 1f / m;
        float xhat = (x[i] - mean[ch]) * rs;
        dx[i] = scale * (dy[i] - sumDy[ch] * invM - xhat * sumDyXhat[ch] * invM);
    }
}
