using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Fast CPU embedding lookup and its deterministic gradient, twins of
/// <see cref="Embedding.Embedding"/>: the forward copies whole table rows; the backward writes
/// every row of dWeight [v, c] once (zeros for ids that do not occur, else the sum of the id's
/// dy rows in ascending token order, the same order and bits as the generated scatter-add), so
/// dWeight needs no separate zero fill. Rows are split across cores.
/// </summary>
public static unsafe class EmbeddingSimd
{
    /// <summary>y[t, :] = weight[ids[t], :] for t in [0, tokens) (ids already validated).</summary>
    public static void Gather(int tokens, int c, int* ids, float* weight, float* y)
    {
        nint pi = (nint)ids, pw = (nint)weight, py = (nint)y;
        CpuParallel.ForRows(tokens, c, (t0, count) =>
        {
            for (int t = t0; t < t0 + count; t++)
                Buffer.MemoryCopy((float*)pw + (long)((int*)pi)[t] * c, (float*)py + (long)t * c, (long)c * sizeof(float), (long)c * sizeof(float));
        });
    }

    /// <summary>
    /// dWeight [v, c]: row u = sum over k in [rowStart[g], rowStart[g + 1]) of dy[tokens[k], :] where
    /// g = group[u] &gt;= 0, zeros where group[u] = -1 (group [v] maps ids to their CSR group).
    /// </summary>
    public static void ScatterAdd(int v, int c, int* group, int* rowStart, int* tokens, float* dy, float* dWeight)
    {
        nint pgr = (nint)group, ps = (nint)rowStart, pt = (nint)tokens, pg = (nint)dy, pd = (nint)dWeight;
        CpuParallel.ForRows(v, c, (u0, count) => ScatterRows(u0, count, c, (int*)pgr, (int*)ps, (int*)pt, (float*)pg, (float*)pd));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScatterRows(int u0, int count, int c, int* group, int* rowStart, int* tokens, float* dy, float* dWeight)
    {
        for (int u = u0; u < u0 + count; u++)
        {
            float* d = dWeight + (long)u * c;
            int g = group[u];
            if (g < 0)
            {
                new Span<float>(d, c).Clear();
                continue;
            }
            int k0 = rowStart[g], k1 = rowStart[g + 1];
            Buffer.MemoryCopy(dy + (long)tokens[k0] * c, d, (long)c * sizeof(float), (long)c * sizeof(float));
            for (int k = k0 + 1; k < k1; k++)
            {
                float* src = dy + (long)tokens[k] * c;
                int j = 0;
                if (Vector512.IsHardwareAccelerated) j = AddInto<V512>(src, d, c);
                else if (Vector256.IsHardwareAccelerated) j = AddInto<V256>(src, d, c);
                AddInto<V1>(src + j, d + j, c - j);
            }
        }
    }

    /// <summary>Whole vectors of d += src from the start; returns how many elements it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int AddInto<V>(float* src, float* d, int n) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, j = 0;
        for (; j <= n - w; j += w) V.Store(V.Load(d + j) + V.Load(src + j), d + j);
        return j;
    }
}
