using ILGPU;

namespace MaMA.Kernels.Softmax;

/// <summary>
/// Fused softmax cross-entropy over logits [rows, c] with one int32 class id per row.
/// The forward (one index per row) computes the row's log-sum-exp and its loss term; the
/// backward (one index per element) rebuilds softmax from the saved row max and log-sum. Label smoothing
/// eps mixes the one-hot target with the uniform distribution: target = (1 - eps) onehot + eps / c.
/// Rows whose target equals <c>ignoreIndex</c> contribute no loss and no gradient. Targets must
/// already be validated to lie in [0, c) (or equal ignoreIndex).
/// </summary>
public static partial class CrossEntropy
{
    /// <summary>
    /// rowMax[r] = max_j x[r, j], logSum[r] = log sum_j exp(x[r, j] - rowMax[r]) (kept apart so huge
    /// logits lose nothing), loss[r] = logSum + (1 - eps) (rowMax - x[r, t]) - (eps / c) sum_j (x[r, j] - rowMax),
    /// which is lse - (1 - eps) x[r, t] - (eps / c) sum_j x[r, j]; 0 for an ignored row.
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void ForwardKernel(int r, [Extent("(long)count * c")] ArrayView<float> x, [Extent("count")] ArrayView<int> targets,
        [Extent("count")] ArrayView<float> loss, [Extent("count")] ArrayView<float> rowMax, [Extent("count")] ArrayView<float> logSum,
        int c, float smoothing, int ignoreIndex)
    {
        long start = (long)r * c;
        float max = x[start];
        for (int j = 1; j < c; j++)
        {
            float v = x[start + j];
            if (v > max) max = v;
        }
        float sum = 0f, carry = 0f, sumShifted = 0f, carryShifted = 0f;
        for (int j = 0; j < c; j++)
        {
            float d = x[start + j] - max;
            float e = MathF.Exp(d) - carry;
            float t = sum + e;
            carry = CompensatedSum.Carry(t, sum, e);
            sum = t;
            float ds = d - carryShifted;
            float ts = sumShifted + ds;
            carryShifted = CompensatedSum.Carry(ts, sumShifted, ds);
            sumShifted = ts;
        }
        float ls = MathF.Log(sum);
        rowMax[r] = max;
        logSum[r] = ls;
        int target = targets[r];
        if (target == ignoreIndex)
        {
            loss[r] = 0f;
        }
        else
        {
            float smoothTerm = smoothing != 0f ? smoothing / c * sumShifted : 0f;
            loss[r] = ls + (1f - smoothing) * (max - x[start + target]) - smoothTerm;
        }
    }

    /// <summary>
    /// dx[r, j] = scale * dy * (softmax(x)[r, j] - (1 - eps) [j == t] - eps / c), 0 on ignored rows;
    /// softmax = exp((x - rowMax) - logSum).
    /// </summary>
    [Kernel]
    private static void BackwardKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count / c")] ArrayView<int> targets,
        [Extent("count / c")] ArrayView<float> rowMax, [Extent("count / c")] ArrayView<float> logSum, [Extent("1")] ArrayView<float> dy,
        [Extent("count")] ArrayView<float> dx, int c, float smoothing, int ignoreIndex, float scale)
    {
        int r = i / c;
        int j = i - r * c;
        int target = targets[r];
        if (target == ignoreIndex)
        {
            dx[i] = 0f;
        }
        else
        {
            float p = MathF.Exp((x[i] - rowMax[r]) - logSum[r]);
            float g = p - smoothing / c - (j == target ? 1f - smoothing : 0f);
            dx[i] = g * dy[0] * scale;
        }
    }
}
