using ILGPU;

namespace MaMA.Kernels.Optim;

/// <summary>
/// Pieces of gradient-norm clipping: partial sums of squares (summed on the host in double) and
/// an in-place rescale.
/// </summary>
public static partial class GradNorm
{
    /// <summary>
    /// partial[outOffset + i] = sum of x[j]^2 over j = i * itemStride + k * elementStride,
    /// k &lt; perItem, j &lt; n (Kahan-compensated fp32; Inf or NaN when an element is). Contiguous chunks on CPU
    /// (itemStride = chunk, elementStride = 1), a coalesced grid stride on GPUs
    /// (itemStride = 1, elementStride = count).
    /// </summary>
    [Kernel(CpuGrain = 4)]
    private static void SumOfSquaresKernel(
        int i,
        [Extent("n")] ArrayView<float> x,
        [Extent("(long)outOffset + count")] ArrayView<float> partial,
        long n,
        long itemStride,
        long elementStride,
        int perItem,
        int outOffset)
    {
        float sum = 0f, carry = 0f;
        long j = i * itemStride;
        for (int k = 0; k < perItem && j < n; k++)
        {
            float sq = x[j] * x[j];
            float y = sq - carry;
            float t = sum + y;
            carry = CompensatedSum.Carry(t, sum, y);
            sum = t;
            j += elementStride;
        }
        partial[outOffset + i] = sum; // Inf or NaN when a term is (CompensatedSum keeps an infinity infinite)
    }

    /// <summary>x[i] *= alpha (in place).</summary>
    [Kernel]
    private static void ScaleKernel(int i, [Extent("count")] ArrayView<float> x, float alpha)
    {
        x[i] = x[i] * alpha;
    }
}
