namespace MaMA.Kernels.Reduction;

/// <summary>
/// A reduction of a few hundred to a few thousand elements per output, split into contiguous runs:
/// one thread per run, then one thread per output combines its runs in order. Contiguous runs keep
/// what one scan would give (the first index on ties, the first NaN), which the strided splits of
/// <see cref="SplitReduce"/> would not. Used where one thread per output left a card nearly idle:
/// SLA's maxima and sums over 1,369 patches (1,296 outputs at MaMA's shape) and the contrastive
/// losses' row statistics (288 outputs).
/// </summary>
public static class Runs
{
    /// <summary>About this many elements per run.</summary>
    public const int Length = 32;

    /// <summary>At most this many runs, so the combining thread's loop stays short.</summary>
    public const int Most = 32;

    /// <summary>How many runs <paramref name="length"/> elements are split into: 43 patches each at 1,369, 32 logits each at 288.</summary>
    public static int For(int length) => Math.Clamp((length + Length - 1) / Length, 1, Most);

    /// <summary>First element of run <paramref name="q"/> of <paramref name="runs"/> over <paramref name="length"/> (at most length: a run past the end is empty).</summary>
    public static int Start(int length, int runs, int q)
    {
        int start = q * ((length + runs - 1) / runs);
        return start < length ? start : length;
    }

    /// <summary>One past the last element of run <paramref name="q"/>.</summary>
    public static int End(int length, int runs, int q)
    {
        int end = (q + 1) * ((length + runs - 1) / runs);
        return end < length ? end : length;
    }
}
