using ILGPU;

namespace MaMA.Kernels.Normalization;

/// <summary>
/// Layer normalisation over the last axis of a contiguous [rows, c] buffer (ViT: c = 768, eps 1e-6;
/// GPT-2: eps 1e-5). The forward (one index per row) saves each row's mean and 1/sqrt(var + eps)
/// (biased variance, two-pass) for the backward. Weight and bias are optional: with
/// <c>hasWeight</c>/<c>hasBias</c> 0 the corresponding view is never read (pass any view).
/// The weight/bias gradients are column sums over rows, done in two stages so accelerators get
/// blocks x c threads: per-block partial sums, then a sum over blocks per channel.
/// </summary>
public static partial class LayerNorm
{
    /// <summary>y = (x - mean) * rstd * w + b per row; mean[r], rstd[r] saved.</summary>
    [Kernel(CpuGrain = 4)]
    private static void ForwardKernel(int r, [Extent("(long)count * c")] ArrayView<float> x, [Extent("hasWeight != 0 ? c : 0")] ArrayView<float> weight,
        [Extent("hasBias != 0 ? c : 0")] ArrayView<float> bias, [Extent("(long)count * c")] ArrayView<float> y,
        [Extent("count")] ArrayView<float> mean, [Extent("count")] ArrayView<float> rstd, int c, float eps, int hasWeight, int hasBias)
    {
        long start = (long)r * c;
        float sum = 0f, carry = 0f;
        for (int j = 0; j < c; j++)
        {
            float v = x[start + j] - carry;
            float t = sum + v;
            carry = CompensatedSum.Carry(t, sum, v);
            sum = t;
        }
        float mu = sum / c;
        float sq = 0f, carrySq = 0f;
        for (int j = 0; j < c; j++)
        {
            float d = x[start + j] - mu;
            float v = d * d - carrySq;
            float t = sq + v;
            carrySq = CompensatedSum.Carry(t, sq, v);
            sq = t;
        }
        float rs = 1f / MathF.Sqrt(sq / c + eps);
        mean[r] = mu;
        rstd[r] = rs;
        for (int j = 0; j < c; j++)
        {
            float v = (x[start + j] - mu) * rs;
            if (hasWeight != 0) v *= weight[j];
            if (hasBias != 0) v += bias[j];
            y[start + j] = v;
        }
    }

    /// <summary>
    /// dx = rstd * (g - mean_j g - xhat * mean_j(g xhat)) with g = dy * w (dy without a weight) and
    /// xhat = (x - mean) * rstd, one index per row.
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void BackwardInputKernel(int r, [Extent("(long)count * c")] ArrayView<float> x, [Extent("hasWeight != 0 ? c : 0")] ArrayView<float> weight,
        [Extent("(long)count * c")] ArrayView<float> dy, [Extent("count")] ArrayView<float> mean, [Extent("count")] ArrayView<float> rstd,
        [Extent("(long)count * c")] ArrayView<float> dx, int c, int hasWeight)
    {
        long start = (long)r * c;
        float mu = mean[r], rs = rstd[r];
        float sumG = 0f, carryG = 0f, sumGx = 0f, carryGx = 0f;
        for (int j = 0; j < c; j++)
        {
            float g = dy[start + j];
            if (hasWeight != 0) g *= weight[j];
            float xhat = (x[start + j] - mu) * rs;
            float vg = g - carryG;
            float tg = sumG + vg;
            carryG = CompensatedSum.Carry(tg, sumG, vg);
            sumG = tg;
            float vx = g * xhat - carryGx;
            float tx = sumGx + vx;
            carryGx = CompensatedSum.Carry(tx, sumGx, vx);
            sumGx = tx;
        }
        float meanG = sumG / c, meanGx = sumGx / c;
        for (int j = 0; j < c; j++)
        {
            float g = dy[start + j];
            if (hasWeight != 0) g *= weight[j];
            float xhat = (x[start + j] - mu) * rs;
            dx[start + j] = rs * (g - meanG - xhat * meanGx);
        }
    }

    /// <summary>
    /// Stage 1 of the weight/bias gradients, one index per (block, channel): over rows
    /// [block * rowsPerBlock, min(rows, (block + 1) * rowsPerBlock)),
    /// partialWeight[block, j] = sum dy * xhat and partialBias[block, j] = sum dy.
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void ParamGradPartialKernel(int i, [Extent("(long)rows * c")] ArrayView<float> x, [Extent("(long)rows * c")] ArrayView<float> dy,
        [Extent("rows")] ArrayView<float> mean, [Extent("rows")] ArrayView<float> rstd,
        [Extent("count")] ArrayView<float> partialWeight, [Extent("count")] ArrayView<float> partialBias, int rows, int c, int rowsPerBlock)
    {
        int block = i / c;
        int j = i - block * c;
        int r0 = block * rowsPerBlock;
        int r1 = r0 + rowsPerBlock;
        if (r1 > rows) r1 = rows;
        float sw = 0f, sb = 0f;
        for (int r = r0; r < r1; r++)
        {
            long k = (long)r * c + j;
            float g = dy[k];
            sw += g * (x[k] - mean[r]) * rstd[r];
            sb += g;
        }
        partialWeight[i] = sw;
        partialBias[i] = sb;
    }

    /// <summary>Stage 2: dWeight[j] = sum_b partialWeight[b, j], dBias[j] = sum_b partialBias[b, j], one index per channel.</summary>
    [Kernel(CpuGrain = 64)]
    private static void ParamGradReduceKernel(int j, [Extent("(long)blocks * count")] ArrayView<float> partialWeight, [Extent("(long)blocks * count")] ArrayView<float> partialBias,
        [Extent("count")] ArrayView<float> dWeight, [Extent("count")] ArrayView<float> dBias, int blocks, int c)
    {
        float sw = 0f, carryW = 0f, sb = 0f, carryB = 0f;
        for (int b = 0; b < blocks; b++)
        {
            long k = (long)b * c + j;
            float vw = partialWeight[k] - carryW;
            float tw = sw + vw;
            carryW = CompensatedSum.Carry(tw, sw, vw);
            sw = tw;
            float vb = partialBias[k] - carryB;
            float tb = sb + vb;
            carryB = CompensatedSum.Carry(tb, sb, vb);
            sb = tb;
        }
        dWeight[j] = sw;
        dBias[j] = sb;
    }
}
