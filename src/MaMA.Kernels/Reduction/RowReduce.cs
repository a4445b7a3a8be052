using ILGPU;

namespace MaMA.Kernels.Reduction;

/// <summary>
/// Reductions over the last axis of a contiguous [rows, n] buffer, one launch index per row.
/// Any reduction over any axes is expressed as permute -> contiguous -> this.
/// Sums accumulate in fp32 with Kahan compensation so long rows (n ~ 10^6) stay accurate.
/// </summary>
public static partial class RowReduce
{
    /// <summary>y[r] = scale * sum_j x[r, j].</summary>
    [Kernel(CpuGrain = 8)]
    private static void SumKernel(int r, [Extent("(long)count * n")] ArrayView<float> x, [Extent("count")] ArrayView<float> y, int n, float scale)
    {
        long start = (long)r * n;
        float sum = 0f, carry = 0f;
        for (int j = 0; j < n; j++)
        {
            float v = x[start + j] - carry;
            float t = sum + v;
            carry = CompensatedSum.Carry(t, sum, v);
            sum = t;
        }
        y[r] = sum * scale;
    }

    /// <summary>y[r] = max_j x[r, j]; index[r] = the first j attaining it (NaN wins, as in PyTorch).</summary>
    [Kernel(CpuGrain = 8)]
    private static void MaxKernel(int r, [Extent("(long)count * n")] ArrayView<float> x, [Extent("count")] ArrayView<float> y, [Extent("count")] ArrayView<int> index, int n)
    {
        long start = (long)r * n;
        float best = x[start];
        int arg = 0;
        for (int j = 1; j < n; j++)
        {
            float v = x[start + j];
            if (float.IsNaN(best)) break;
            if (v > best || float.IsNaN(v))
            {
                best = v;
                arg = j;
            }
        }
        y[r] = best;
        index[r] = arg;
    }

    /// <summary>dx[r, j] = dy[r] * (j == index[r]): the gradient of a max goes to the arg-max only.</summary>
    [Kernel]
    private static void MaxBackwardKernel(int i, [Extent("count")] ArrayView<float> dx, ArrayView<float> dy, ArrayView<int> index, int n)
    {
        int r = i / n;
        dx[i] = (i - r * n) == index[r] ? dy[r] : 0f;
    }

    /// <summary>dx[r, j] = scale * dy[r]: the gradient of a (scaled) sum is broadcast back.</summary>
    [Kernel]
    private static void SumBackwardKernel(int i, [Extent("count")] ArrayView<float> dx, ArrayView<float> dy, int n, float scale)
    {
        dx[i] = dy[i / n] * scale;
    }
}
