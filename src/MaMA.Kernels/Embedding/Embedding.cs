using ILGPU;

namespace MaMA.Kernels.Embedding;

/// <summary>
/// Row lookup y[t, :] = weight[ids[t], :] for a [v, c] table and its deterministic gradient. The
/// backward gets the tokens grouped by id (CSR: <c>rowStart</c> over the distinct ids, <c>tokens</c>
/// in ascending token order within a group), so each (distinct id, channel) pair is one launch index
/// summing its tokens in a fixed order: no atomics, the same bits on every run and device.
/// </summary>
public static partial class Embedding
{
    /// <summary>y[i] = weight[ids[i / c] * c + i % c] over count = tokens * c elements (ids already validated).</summary>
    [Kernel]
    private static void GatherKernel(int i, [Extent("(long)count / c")] ArrayView<int> ids, ArrayView<float> weight, [Extent("count")] ArrayView<float> y, int c)
    {
        int t = i / c;
        int ch = i - t * c;
        y[i] = weight[(long)ids[t] * c + ch];
    }

    /// <summary>
    /// dWeight[uniqueIds[u], ch] = sum over k in [rowStart[u], rowStart[u + 1]) of dy[tokens[k], ch],
    /// count = distinct ids * c; rows of ids that do not occur are left as they are (zero).
    /// </summary>
    [Kernel]
    private static void ScatterAddKernel(int i, [Extent("(long)count / c")] ArrayView<int> uniqueIds, [Extent("(long)count / c + 1")] ArrayView<int> rowStart,
        ArrayView<int> tokens, ArrayView<float> dy, ArrayView<float> dWeight, int c)
    {
        int u = i / c;
        int ch = i - u * c;
        float sum = 0f;
        int end = rowStart[u + 1];
        for (int k = rowStart[u]; k < end; k++)
            sum += dy[(long)tokens[k] * c + ch];
        dWeight[(long)uniqueIds[u] * c + ch] = sum;
    }
}
