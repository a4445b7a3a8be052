using ILGPU;

namespace MaMA.Kernels.Reduction;

/// <summary>
/// Sum over the middle axis of a contiguous [outer, reduced, inner] buffer in coalesced passes,
/// for accelerators: a bias gradient ([B T, C] -> [C], outer 1), a full sum or mean (inner 1, outer 1),
/// a mean over tokens ([B, T, C] -> [B, C]). <see cref="RowReduce"/> gives one thread a whole row,
/// which leaves a GPU with C threads (or one) each walking ~10^5 to ~10^7 elements, after a transposed
/// copy of the input.
/// <para>
/// Pass 1 (<see cref="PartialKernel"/>) splits the reduced axis over <c>splits</c> threads per
/// output: thread s takes rows s, s + splits, s + 2 splits, ..., so neighbouring threads read
/// neighbouring addresses (the inner axis, or the split index when inner is 1). Its output,
/// [outer, splits, inner], is summed the same way until one split is left (the caller loops), and
/// <see cref="ScaleKernel"/> applies a mean's 1/n. Each thread sums with Kahan compensation.
/// </para>
/// </summary>
public static partial class SplitReduce
{
    /// <summary>
    /// partial[(a splits + s) inner + b] = sum over r = s, s + splits, ... &lt; reduced of
    /// x[(a reduced + r) inner + b]; index i = (a splits + s) inner + b, count = outer splits inner.
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void PartialKernel(int i, [Extent("(long)count / splits * reduced")] ArrayView<float> x, [Extent("count")] ArrayView<float> partial,
        int reduced, int inner, int splits)
    {
        int b = i % inner;
        int s = i / inner % splits;
        long a = i / inner / splits;
        long row0 = a * reduced;
        float sum = 0f, carry = 0f;
        for (int r = s; r < reduced; r += splits)
        {
            float v = x[(row0 + r) * inner + b] - carry;
            float t = sum + v;
            carry = CompensatedSum.Carry(t, sum, v);
            sum = t;
        }
        partial[i] = sum;
    }

    /// <summary>y[i] = scale * x[i] (the mean's 1/n after the last pass).</summary>
    [Kernel]
    private static void ScaleKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> y, float scale)
    {
        y[i] = x[i] * scale;
    }

    /// <summary>
    /// Splits per output for one pass: enough threads in all to fill a GPU (about 2^18), each
    /// summing at least 32 elements, never more splits than rows. 1 means the pass is the last.
    /// </summary>
    public static int Splits(long outputs, int reduced)
    {
        const long threads = 1L << 18;
        const int perThread = 32;
        long wanted = Math.Max(1, threads / Math.Max(1, outputs));
        long most = Math.Max(1, (reduced + perThread - 1) / perThread);
        return (int)Math.Min(wanted, most);
    }
}
