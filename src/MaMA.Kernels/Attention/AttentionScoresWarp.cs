using ILGPU;
using ILGPU.Runtime;
using MaMA.Kernels.Rows;

namespace MaMA.Kernels.Attention;

/// <summary>
/// The GEMM-form attention forward's softmax over score rows with one warp per row
/// (<see cref="WarpRows"/>), for CUDA. <see cref="AttentionScores"/>'s SoftmaxRows gives each row to
/// one thread, which walks its T scores three times while its neighbours read rows T floats away (a
/// cache line per element fetched); here the 32 lanes read a row in coalesced steps and reduce its
/// maximum and sum with shuffles. Same contract and results up to summation order: over the keys j
/// visible to query i (keep[b, j] != 0 and, if causal, j &lt;= i), lse[row] = m + log sum_j exp(scale
/// s_ij - m) and s_ij := exp(scale s_ij - lse), 0 for keys not visible; a row with no visible key
/// gets lse = +inf and zeros. Row r of the chunk is head firstHead + r / T, query i = r % T.
/// </summary>
public static class AttentionScoresWarp
{
    private static readonly Dictionary<Accelerator, Launcher> s_kernels = new();

    private static long s_launches;

    /// <summary>Kernel launches so far in this process (tests check which row form really ran).</summary>
    public static long Launches => Interlocked.Read(ref s_launches);

    private delegate void Launcher(AcceleratorStream stream, KernelConfig config, ArrayView<float> s, ArrayView<float> keep, ArrayView<float> lse,
        int rows, int t, int heads, int firstHead, int causal, float scale);

    /// <summary>
    /// Softmax of <paramref name="rows"/> rows of T scores in place (s [rows, T], unscaled q . k) with
    /// their log-sum-exps at lse[firstHead T + r]; keep [B, T] (1 keep, 0 padded).
    /// </summary>
    public static void SoftmaxRows(AcceleratorStream stream, ArrayView<float> s, ArrayView<float> keep, ArrayView<float> lse,
        int rows, int t, int heads, int firstHead, bool causal, float scale)
    {
        if (rows < 0 || t < 1 || heads < 1 || firstHead < 0)
            throw new ArgumentOutOfRangeException(nameof(rows), $"attention softmax rows: rows {rows}, T {t}, heads {heads}, first head {firstHead}.");
        if (s.Length < (long)rows * t) throw new ArgumentException($"attention softmax rows: s has {s.Length} elements, rows x T is {(long)rows * t}.", nameof(s));
        if (lse.Length < (long)firstHead * t + rows) throw new ArgumentException($"attention softmax rows: lse has {lse.Length} elements, needs {(long)firstHead * t + rows}.", nameof(lse));
        long keepNeeded = rows == 0 ? 0 : ((long)(firstHead + (rows - 1) / t) / heads + 1) * t; // through the last row's batch
        if (keep.Length < keepNeeded) throw new ArgumentException($"attention softmax rows: keep has {keep.Length} elements, needs {keepNeeded}.", nameof(keep));
        if (rows == 0) return;
        Interlocked.Increment(ref s_launches);
        WarpRows.Run(stream, rows, (target, st, config) => Kernel(target)(st, config, s, keep, lse, rows, t, heads, firstHead, causal ? 1 : 0, scale));
    }

    private static Launcher Kernel(Accelerator accelerator)
    {
        lock (s_kernels)
        {
            if (!s_kernels.TryGetValue(accelerator, out Launcher? launcher))
            {
                var kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int, float>(SoftmaxRowsKernel);
                launcher = new Launcher(kernel.Invoke);
                s_kernels[accelerator] = launcher;
            }
            return launcher;
        }
    }

    /// <summary>The softmax of the warp's row (an explicitly grouped kernel); every reduction is warp-uniform.</summary>
    public static void SoftmaxRowsKernel(ArrayView<float> s, ArrayView<float> keep, ArrayView<float> lse, int rows, int t, int heads, int firstHead,
        int causal, float scale)
    {
        int lane = WarpRows.Lane(), r = WarpRows.Row();
        if (r >= rows) return;
        int rowInHead = r / t, i = r - rowInHead * t;
        long start = (long)r * t;
        long keepRow = (long)((firstHead + rowInHead) / heads) * t;
        int end = causal != 0 ? i + 1 : t;
        float m = float.NegativeInfinity;
        for (int j = lane; j < end; j += WarpRows.WarpSize)
        {
            if (keep[keepRow + j] == 0f) continue;
            float v = scale * s[start + j];
            if (v > m) m = v;
        }
        m = WarpRows.Max(m);
        float l = 0f;
        if (m != float.NegativeInfinity)
        {
            for (int j = lane; j < end; j += WarpRows.WarpSize)
                if (keep[keepRow + j] != 0f) l += MathF.Exp(scale * s[start + j] - m);
        }
        l = WarpRows.Sum(l);
        long lseAt = (long)firstHead * t + r;
        if (l > 0f)
        {
            float lr = m + MathF.Log(l);
            if (lane == 0) lse[lseAt] = lr;
            for (int j = lane; j < t; j += WarpRows.WarpSize)
                s[start + j] = j < end && keep[keepRow + j] != 0f ? MathF.Exp(scale * s[start + j] - lr) : 0f;
        }
        else
        {
            if (lane == 0) lse[lseAt] = float.PositiveInfinity;
            for (int j = lane; j < t; j += WarpRows.WarpSize) s[start + j] = 0f;
        }
    }
}
