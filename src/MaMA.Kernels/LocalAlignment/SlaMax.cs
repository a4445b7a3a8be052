namespace MaMA.Kernels.LocalAlignment;

/// <summary>
/// The one rule every SLA maximum follows (the ILGPU kernels, their generated CPU loops and the
/// SIMD CPU path): a larger value wins, ties keep the first index, and NaN wins over every number
/// and stays, so a NaN similarity makes its maximum NaN with the first NaN's index, as
/// <c>torch.max</c> propagates it. Before, a NaN counted only where it came first (the kernels
/// start from the first element), and the CPU path never took one.
/// </summary>
public static class SlaMax
{
    /// <summary>Whether <paramref name="candidate"/>, seen after <paramref name="best"/>, replaces it.</summary>
    public static bool Beats(float candidate, float best) => candidate > best || (float.IsNaN(candidate) && !float.IsNaN(best));

    /// <summary>
    /// The same for two candidates from different lanes, whose order is their indices: NaN first,
    /// then the larger value, and on a tie of either kind the smaller index.
    /// </summary>
    public static bool Beats(float candidate, int candidateIndex, float best, int bestIndex)
    {
        bool nanC = float.IsNaN(candidate), nanB = float.IsNaN(best);
        if (nanC != nanB) return nanC;
        return candidate > best || ((nanC || candidate == best) && candidateIndex < bestIndex);
    }
}
