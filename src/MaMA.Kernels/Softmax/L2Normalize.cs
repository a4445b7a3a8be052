using ILGPU;

namespace MaMA.Kernels.Softmax;

/// <summary>
/// Row-wise L2 normalisation of a contiguous [rows, n] buffer, one launch index per row, as
/// torch.nn.functional.normalize: y = x / max(||x||, eps). The plain norm is saved for the
/// backward; a zero row gives zeros (0 / eps), never NaN.
/// </summary>
public static partial class L2Normalize
{
    /// <summary>norm[r] = ||x[r]||; y[r, j] = x[r, j] / max(norm[r], eps).</summary>
    [Kernel(CpuGrain = 8)]
    private static void ForwardKernel(int r, [Extent("(long)count * n")] ArrayView<float> x, [Extent("(long)count * n")] ArrayView<float> y,
        [Extent("count")] ArrayView<float> norm, int n, float eps)
    {
        long start = (long)r * n;
        float sum = 0f, carry = 0f;
        for (int j = 0; j < n; j++)
        {
            float v = x[start + j];
            float s = v * v - carry;
            float t = sum + s;
            carry = CompensatedSum.Carry(t, sum, s);
            sum = t;
        }
        float length = MathF.Sqrt(sum);
        norm[r] = length;
        float inv = 1f / (length > eps ? length : eps);
        for (int j = 0; j < n; j++)
            y[start + j] = x[start + j] * inv;
    }

    /// <summary>
    /// With norm &gt;= eps: dx = (dy - y sum_k dy[k] y[k]) / norm; below eps the denominator is the
    /// constant eps, so dx = dy / eps (clamp_min passes no gradient to the norm there).
    /// </summary>
    [Kernel(CpuGrain = 8)]
    private static void BackwardKernel(int r, [Extent("(long)count * n")] ArrayView<float> y, [Extent("(long)count * n")] ArrayView<float> dy,
        [Extent("count")] ArrayView<float> norm, [Extent("(long)count * n")] ArrayView<float> dx, int n, float eps)
    {
        long start = (long)r * n;
        float length = norm[r];
        if (length >= eps)
        {
            float dot = 0f, carry = 0f;
            for (int j = 0; j < n; j++)
            {
                float v = dy[start + j] * y[start + j] - carry;
                float t = dot + v;
                carry = CompensatedSum.Carry(t, dot, v);
                dot = t;
            }
            float inv = 1f / length;
            for (int j = 0; j < n; j++)
            {
                long k = start + j;
                dx[k] = (dy[k] - y[k] * dot) * inv;
            }
        }
        else
        {
            float inv = 1f / eps;
            for (int j = 0; j < n; j++)
                dx[start + j] = dy[start + j] * inv;
        }
    }
}
