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
            packedB = (float*)NativeMemory.AlignedAlloc((nuint)((long)panels * nr * k * sizeof(float)), 64);
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
            else Parallel.For(0, items, job.Run);
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
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int item)
        {
            int i0 = item / ColItems * RowsPerItem;
            int rows = Math.Min(RowsPerItem, M - i0);
            int p0 = item % ColItems * PanelsPerItem;
            int p1 = Math.Min(Panels, p0 + PanelsPerItem);
            int aPanels = (rows + Mr - 1) / Mr;
            int kcMax = Math.Min(KC, K);
            float* packA = (float*)NativeMemory.AlignedAlloc((nuint)((long)aPanels * Mr * kcMax * sizeof(float)), 64);
            // A ragged last panel of an unpacked B goes through this zero-padded copy.
            float* edge = (float*)NativeMemory.AlignedAlloc((nuint)((long)Nr * kcMax * sizeof(float)), 64);
            float* tile = stackalloc float[8 * 32];
            try
            {
                for (int k0 = 0; k0 < K; k0 += KC)
                {
                    int kc = Math.Min(KC, K - k0);
                    bool accumulate = Accumulate || k0 > 0;
                    Sgemm.PackA(A, ARow, ACol, i0, rows, k0, kc, Mr, packA);
                    for (int p = p0; p < p1; p++)
                    {
                        int cols = Math.Min(Nr, N - p * Nr);
                        float* bPanel;
                        long ldb;
                        if (Packed)
                        {
                            bPanel = B + (long)p * K * Nr + (long)k0 * Nr;
                            ldb = Nr;
                        }
                        else if (cols == Nr)
                        {
                            bPanel = B + k0 * Ldb + (long)p * Nr;
                            ldb = Ldb;
                        }
                        else
                        {
                            CopyEdge(B + k0 * Ldb + (long)p * Nr, Ldb, kc, cols, Nr, edge);
                            bPanel = edge;
                            ldb = Nr;
                        }
                        float* cCol = C + (long)p * Nr;
                        for (int ip = 0; ip < aPanels; ip++)
                        {
                            int r0 = i0 + ip * Mr;
                            int mr = Math.Min(Mr, M - r0);
                            float* aPanel = packA + (long)ip * kc * Mr;
                            if (Wide) Sgemm.Kernel8x32(aPanel, bPanel, ldb, kc, cCol + r0 * Ldc, Ldc, mr, cols, Alpha, accumulate, tile);
                            else Sgemm.Kernel6x16(aPanel, bPanel, ldb, kc, cCol + r0 * Ldc, Ldc, mr, cols, Alpha, accumulate, tile);
                        }
                    }
                }
            }
            finally
            {
                NativeMemory.AlignedFree(edge);
                NativeMemory.AlignedFree(packA);
            }
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
