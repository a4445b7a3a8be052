using ILGPU;

namespace MaMA.Kernels.Softmax;

/// <summary>
/// Softmax and log-softmax over the last axis of a contiguous [rows, n] buffer, one launch index
/// per row. Numerically stable: the row maximum is subtracted before exponentiating, so logits of
/// any magnitude give finite probabilities (a row that is all -inf or holds a NaN gives NaN, as in
/// PyTorch). Sums of exponentials use Kahan compensation.
/// </summary>
public static partial class RowSoftmax
{
    /// <summary>y[r, j] = exp(x[r, j] - m) / sum_k exp(x[r, k] - m), m = max_k x[r, k].</summary>
    [Kernel(CpuGrain = 8)]
    private static void SoftmaxForwardKernel(int r, [Extent("(long)count * n")] ArrayView<float> x, [Extent("(long)count * n")] ArrayView<float> y, int n)
    {
        long start = (long)r * n;
        float max = RowMax(x, start, n);
        float sum = SumExp(x, start, n, max);
        float inv = 1f / sum;
        for (int j = 0; j < n; j++)
            y[start + j] = MathF.Exp(x[start + j] - max) * inv;
    }

    /// <summary>y[r, j] = x[r, j] - m - log sum_k exp(x[r, k] - m), m = max_k x[r, k].</summary>
    [Kernel(CpuGrain = 8)]
    private static void LogSoftmaxForwardKernel(int r, [Extent("(long)count * n")] ArrayView<float> x, [Extent("(long)count * n")] ArrayView<float> y, int n)
    {
        long start = (long)r * n;
        float max = RowMax(x, start, n);
        float sum = SumExp(x, start, n, max);
        // (x - max) - log(sum), not x - (max + log(sum)): the latter loses log(sum) next to a huge max.
        float logSum = MathF.Log(sum);
        for (int j = 0; j < n; j++)
            y[start + j] = (x[start + j] - max) - logSum;
    }

    /// <summary>Softmax backward from its output y: dx = y * (dy - sum_k dy[k] y[k]).</summary>
    [Kernel(CpuGrain = 8)]
    private static void SoftmaxBackwardKernel(int r, [Extent("(long)count * n")] ArrayView<float> y, [Extent("(long)count * n")] ArrayView<float> dy,
        [Extent("(long)count * n")] ArrayView<float> dx, int n)
    {
        long start = (long)r * n;
        float dot = 0f, carry = 0f;
        for (int j = 0; j < n; j++)
        {
            float v = dy[start + j] * y[start + j] - carry;
            float t = dot + v;
            carry = CompensatedSum.Carry(t, dot, v);
            dot = t;
        }
        for (int j = 0; j < n; j++)
        {
            long k = start + j;
            dx[k] = y[k] * (dy[k] - dot);
        }
    }

    /// <summary>Log-softmax backward from its output y (log-probabilities): dx = dy - exp(y) * sum_k dy[k].</summary>
    [Kernel(CpuGrain = 8)]
    private static void LogSoftmaxBackwardKernel(int r, [Extent("(long)count * n")] ArrayView<float> y, [Extent("(long)count * n")] ArrayView<float> dy,
        [Extent("(long)count * n")] ArrayView<float> dx, int n)
    {
        long start = (long)r * n;
        float sum = 0f, carry = 0f;
        for (int j = 0; j < n; j++)
        {
            float v = dy[start + j] - carry;
            float t = sum + v;
            carry = CompensatedSum.Carry(t, sum, v);
            sum = t;
        }
        for (int j = 0; j < n; j++)
        {
            long k = start + j;
            dx[k] = dy[k] - MathF.Exp(y[k]) * sum;
        }
    }

    /// <summary>max of x[start .. start + n).</summary>
    [DeviceFunction]
    private static float RowMax(ArrayView<float> x, long start, int n)
    {
        float max = x[start];
        for (int j = 1; j < n; j++)
        {
            float v = x[start + j];
            if (v > max) max = v;
        }
        return max;
    }

    /// <summary>sum of exp(x[start + j] - max) over the row, Kahan-compensated.</summary>
    [DeviceFunction]
    private static float SumExp(ArrayView<float> x, long start, int n, float max)
    {
        float sum = 0f, carry = 0f;
        for (int j = 0; j < n; j++)
        {
            float e = MathF.Exp(x[start + j] - max) - carry;
            float t = sum + e;
            carry = CompensatedSum.Carry(t, sum, e);
            sum = t;
        }
        return sum;
    }
}
