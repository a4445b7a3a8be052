using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Linear;

/// <summary>
/// The small-GEMM path of <see cref="Sgemm"/> (up to <see cref="MaxWork"/> multiply-adds, e.g. the
/// contrastive losses' 288 x 288 x 512 similarity and its gradient products), where the blocked
/// path's fork-joins (one per B pack and per depth block), its per-item A repacking and its uneven
/// column split cost as much as the arithmetic on two cores.
/// <para>
/// One fork-join: each work item owns a range of rows of C (and, only when there are too few
/// rows, a range of column panels), packs its own rows of A per 256-deep block and runs the same
/// register-tile micro-kernels over all its panels. A row-major B (unit column stride) is not
/// packed at all: the kernels read its rows in place (row stride ldb), only a ragged last panel
/// is copied into a zero-padded buffer. Any other B layout is packed once up front.
/// </para>
/// </summary>
internal static unsafe class SgemmSmall
{
    /// <summary>Largest m n k handled here.</summary>
    public const long MaxWork = 1L << 27;

    private const int KC = 256;

    /// <summary>Below this many multiply-adds everything runs on the calling thread.</summary>
    private const long InlineWork = 1L << 18;

    public static bool Suits(int m, int n, int k) => (long)m * n * k <= MaxWork;

    /// <summary>
    /// C[m, n] = alpha A B (+ C when <paramref name="accumulate"/>) with a(i, k) = a[i aRow + k aCol],
    /// b(k, j) = b[k bRow + j bCol], C row-major with row stride ldc; m, n, k &gt;= 1.
    /// </summary>
    public static void Run(int m, int n, int k, float* a, long aRow, long aCol, float* b, long bRow, long bCol,
        float* c, long ldc, float alpha, bool accumulate)
    {
        bool wide = Vector512.IsHardwareAccelerated;
        int mr = wide ? 8 : 6, nr = wide ? 32 : 16;
        int panels = (n + nr - 1) / nr;
        int microRows = (m + mr - 1) / mr;
        bool parallel = Environment.ProcessorCount > 1 && (long)m * n * k >= InlineWork;
        // About two items per core (room for a busy core); columns are split only when rows run out.
        int want = parallel ? 2 * Environment.ProcessorCount : 1;
        int rowItems = Math.Min(microRows, want);
        int colItems = Math.Min(panels, (want + rowItems - 1) / rowItems);
        int rowsPerItem = (microRows + rowItems - 1) / rowItems * mr;
        int panelsPerItem = (panels + colItems - 1) / colItems;
        rowItems = (m + rowsPerItem - 1) / rowsPerItem;
        colItems = (panels + panelsPerItem - 1) / panelsPerItem;

        bool direct = bCol == 1;
        float* packedB = null;
        if (!direct)
        {
            packedB = (float*)Cpu.ScratchMemory.AlignedAlloc((long)panels * nr * k * sizeof(float), 64, "SgemmSmall packed B");
            Sgemm.PackB(b, bRow, bCol, 0, k, 0, n, nr, packedB, parallel);
        }
        try
        {
            var job = new Job
            {
                M = m, N = n, K = k, A = a, ARow = aRow, ACol = aCol, B = direct ? b : packedB, Ldb = direct ? bRow : nr, Packed = !direct,
                C = c, Ldc = ldc, Alpha = alpha, Accumulate = accumulate, Wide = wide, Mr = mr, Nr = nr, Panels = panels,
                RowsPerItem = rowsPerItem, PanelsPerItem = panelsPerItem, ColItems = colItems,
            };
            int items = rowItems * colItems;
            if (items == 1) job.Run(0);
            else Cpu.CpuParallel.ForClaimed(items, job.Run);
        }
        finally
        {
            if (packedB != null) NativeMemory.AlignedFree(packedB);
        }
    }

    private sealed class Job
    {
        public float* A, B, C;
        public long ARow, ACol, Ldb, Ldc;
        public int M, N, K, Mr, Nr, Panels, RowsPerItem, PanelsPerItem, ColItems;
        public float Alpha;
        public bool Accumulate, Wide, Packed;

        /// <summary>Row range item / ColItems, panel range item % ColItems, all depth blocks.</summary>
        public void Run(int item)
        {
            int i0 = item / ColItems * RowsPerItem;
            int rows = Math.Min(RowsPerItem, M - i0);
            int p0 = item % ColItems * PanelsPerItem;
            int p1 = Math.Min(Panels, p0 + PanelsPerItem);
            Band(i0, rows, p0, p1, M, N, K, A, ARow, ACol, B, Ldb, Packed, C, Ldc, Alpha, Accumulate);
        }
    }

    /// <summary>
    /// Rows [i0, i0 + rows) of C, column panels [p0, p1) (panels of 32 columns with 512-bit
    /// vectors, else 16), all depth blocks, on the calling thread. B is row-major with row stride
    /// ldb (unit column stride) unless <paramref name="packed"/> (then <see cref="Sgemm.PackB"/>'s
    /// panels over all of k). A's rows are packed per depth block into a per-thread buffer kept
    /// between calls (no allocation per call). Callers that fuse work into the same fork-join (the
    /// contrastive losses' row statistics) call this per row band.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Band(int i0, int rows, int p0, int p1, int m, int n, int k, float* a, long aRow, long aCol,
        float* b, long ldb, bool packed, float* c, long ldc, float alpha, bool accumulateC)
    {
        bool wide = Vector512.IsHardwareAccelerated;
        int mrMax = wide ? 8 : 6, nr = wide ? 32 : 16;
        int aPanels = (rows + mrMax - 1) / mrMax;
        int kcMax = Math.Min(KC, k);
        float* packA = Scratch.A((long)aPanels * mrMax * kcMax);
        // A ragged last panel of an unpacked B goes through this zero-padded copy.
        float* edge = Scratch.Edge((long)nr * kcMax);
        float* tile = stackalloc float[8 * 32];
        for (int k0 = 0; k0 < k; k0 += KC)
        {
            int kc = Math.Min(KC, k - k0);
            bool accumulate = accumulateC || k0 > 0;
            Sgemm.PackA(a, aRow, aCol, i0, rows, k0, kc, mrMax, packA);
            for (int p = p0; p < p1; p++)
            {
                int cols = Math.Min(nr, n - p * nr);
                float* bPanel;
                long ldbPanel;
                if (packed)
                {
                    bPanel = b + (long)p * k * nr + (long)k0 * nr;
                    ldbPanel = nr;
                }
                else if (cols == nr)
                {
                    bPanel = b + k0 * ldb + (long)p * nr;
                    ldbPanel = ldb;
                }
                else
                {
                    CopyEdge(b + k0 * ldb + (long)p * nr, ldb, kc, cols, nr, edge);
                    bPanel = edge;
                    ldbPanel = nr;
                }
                float* cCol = c + (long)p * nr;
                for (int ip = 0; ip < aPanels; ip++)
                {
                    int r0 = i0 + ip * mrMax;
                    int mr = Math.Min(mrMax, m - r0);
                    float* aPanel = packA + (long)ip * kc * mrMax;
                    if (wide) Sgemm.Kernel8x32(aPanel, bPanel, ldbPanel, kc, cCol + r0 * ldc, ldc, mr, cols, alpha, accumulate, tile);
                    else Sgemm.Kernel6x16(aPanel, bPanel, ldbPanel, kc, cCol + r0 * ldc, ldc, mr, cols, alpha, accumulate, tile);
                }
            }
        }
    }

    /// <summary>Per-thread packing buffers, grown on demand and kept for the thread's lifetime (pool threads live long).</summary>
    private static class Scratch
    {
        [ThreadStatic] private static nint _a, _edge;
        [ThreadStatic] private static long _aLength, _edgeLength;

        public static float* A(long floats) => Get(ref _a, ref _aLength, floats, "SgemmSmall packed A");

        public static float* Edge(long floats) => Get(ref _edge, ref _edgeLength, floats, "SgemmSmall edge panel");

        private static float* Get(ref nint buffer, ref long length, long floats, string name)
        {
            if (floats > length)
            {
                if (buffer != 0) NativeMemory.AlignedFree((void*)buffer);
                buffer = 0; // no dangling pointer if the allocation below fails
                length = 0;
                buffer = (nint)Cpu.ScratchMemory.AlignedAlloc(floats * sizeof(float), 64, name);
                length = floats;
            }
            return (float*)buffer;
        }
    }

    /// <summary>dst [kc][nr] = src's kc rows (stride ldb) of cols valid columns, zero-padded to nr.</summary>
    private static void CopyEdge(float* src, long ldb, int kc, int cols, int nr, float* dst)
    {
        for (int kk = 0; kk < kc; kk++)
        {
            float* s = src + kk * ldb;
            float* d = dst + (long)kk * nr;
            int j = 0;
            for (; j < cols; j++) d[j] = s[j];
            for (; j < nr; j++) d[j] = 0f;
        }
    }
}
