using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Linear;

/// <summary>
/// Fast CPU fp32 GEMM: C = alpha * A @ B + beta * C with element strides on A and B (so transposed
/// operands cost nothing) and a row-major C (row stride ldc).
/// <para>
/// GotoBLAS-style blocking. For each (NC columns, KC depth) block, B is packed into NR-wide column
/// panels (kc x NR, contiguous, zero-padded), shared by all threads. Work items are (MC-row block of
/// A, range of B panels): each packs its A block into MR-row panels (kc x MR, zero-padded) and runs
/// the register-tile micro-kernel over its panels, B panel outer so the panel stays in L1 while the
/// A panels stream from L2. With few row blocks (small M) the B panels are split across items
/// instead, so every core has work.
/// </para>
/// <para>
/// Products up to <see cref="SgemmSmall.MaxWork"/> multiply-adds take <see cref="SgemmSmall"/> instead
/// (one fork-join, B read in place when row-major).
/// </para>
/// <para>
/// Micro-kernels: 8 x 32 with 16 Vector512 accumulators when 512-bit vectors are accelerated,
/// else 6 x 16 with 12 Vector256 accumulators (AVX2; software Vector256 elsewhere, still correct).
/// Ragged edges compute on the zero padding and store only the valid rows and columns.
/// </para>
/// </summary>
public static unsafe class Sgemm
{
    private const int KC = 256;
    private const int MCBlocks = 18; // MC = MCBlocks * MR rows of A per block (144 or 108 rows)
    private const int NC = 4096;

    /// <summary>
    /// a(i, k) = a[i * aRow + k * aCol], b(k, j) = b[k * bRow + j * bCol], c(i, j) = c[i * ldc + j].
    /// </summary>
    public static void Run(int m, int n, int k, float* a, long aRow, long aCol, float* b, long bRow, long bCol,
        float* c, long ldc, float alpha = 1f, float beta = 0f)
    {
        if (m <= 0 || n <= 0) return;
        bool wide = Vector512.IsHardwareAccelerated;
        int mr = wide ? 8 : 6, nr = wide ? 32 : 16;
        if (k <= 0 || alpha == 0f)
        {
            ScaleC(m, n, c, ldc, beta);
            return;
        }
        // beta == 0: the first depth block overwrites C (never read, so NaN garbage cannot leak in).
        // beta == 1: every block accumulates. Otherwise C is scaled first, then accumulated into.
        if (beta != 0f && beta != 1f) ScaleC(m, n, c, ldc, beta);
        if (SgemmSmall.Suits(m, n, k))
        {
            SgemmSmall.Run(m, n, k, a, aRow, aCol, b, bRow, bCol, c, ldc, alpha, accumulate: beta != 0f);
            return;
        }

        int mc = MCBlocks * mr;
        int ncMax = Math.Min(NC, RoundUp(n, nr));
        int kcMax = Math.Min(KC, k);
        float* packedB = (float*)Cpu.ScratchMemory.AlignedAlloc((long)ncMax * kcMax * sizeof(float), 64, "Sgemm packed B");
        try
        {
            for (int j0 = 0; j0 < n; j0 += NC)
            {
                int nc = Math.Min(NC, n - j0);
                int panels = (nc + nr - 1) / nr;
                for (int k0 = 0; k0 < k; k0 += KC)
                {
                    int kc = Math.Min(KC, k - k0);
                    bool accumulate = k0 > 0 || beta != 0f;
                    bool parallel = (long)m * nc * kc >= 1 << 18 && Environment.ProcessorCount > 1;
                    PackB(b, bRow, bCol, k0, kc, j0, nc, nr, packedB, parallel);

                    int rowBlocks = (m + mc - 1) / mc;
                    int colSplits = 1;
                    // At least ~4 items per core, so dynamic scheduling can even out a busy core.
                    if (parallel && rowBlocks < 4 * Environment.ProcessorCount)
                        colSplits = Math.Min(panels, (4 * Environment.ProcessorCount + rowBlocks - 1) / rowBlocks);
                    int panelsPerSplit = (panels + colSplits - 1) / colSplits;
                    colSplits = (panels + panelsPerSplit - 1) / panelsPerSplit;
                    var job = new Job
                    {
                        A = a, ARow = aRow, ACol = aCol, C = c, Ldc = ldc, M = m, Mc = mc, Mr = mr, Nr = nr,
                        K0 = k0, Kc = kc, J0 = j0, Nc = nc, PackedB = packedB, Panels = panels,
                        PanelsPerSplit = panelsPerSplit, ColSplits = colSplits, Alpha = alpha, Accumulate = accumulate, Wide = wide,
                    };
                    int items = rowBlocks * colSplits;
                    long packBytes = (long)mc * kc * sizeof(float);
                    if (!parallel || items == 1)
                    {
                        float* packA = (float*)Cpu.ScratchMemory.AlignedAlloc(packBytes, 64, "Sgemm packed A");
                        try
                        {
                            for (int item = 0; item < items; item++) job.Run(item, packA);
                        }
                        finally
                        {
                            NativeMemory.AlignedFree(packA);
                        }
                    }
                    else
                    {
                        try
                        {
                            Parallel.For(0, items,
                                () => (nint)Cpu.ScratchMemory.AlignedAlloc(packBytes, 64, "Sgemm packed A"),
                                (item, _, packA) =>
                                {
                                    job.Run(item, (float*)packA);
                                    return packA;
                                },
                                packA => NativeMemory.AlignedFree((void*)packA));
                        }
                        catch (AggregateException e) when (Cpu.CpuParallel.IsOutOfMemory(e))
                        {
                            Cpu.CpuParallel.ThrowOutOfMemory(e);
                        }
                    }
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(packedB);
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    private static void ScaleC(int m, int n, float* c, long ldc, float beta)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            if (beta == 0f) row.Clear();
            else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>One (jc, pc) step's shared state; <see cref="Run"/> does one work item.</summary>
    private sealed class Job
    {
        public float* A, C, PackedB;
        public long ARow, ACol, Ldc;
        public int M, Mc, Mr, Nr, K0, Kc, J0, Nc, Panels, PanelsPerSplit, ColSplits;
        public float Alpha;
        public bool Accumulate, Wide;

        /// <summary>Row block item / ColSplits, panel range item % ColSplits.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int item, float* packA)
        {
            int i0 = item / ColSplits * Mc;
            int p0 = item % ColSplits * PanelsPerSplit;
            int p1 = Math.Min(Panels, p0 + PanelsPerSplit);
            int rows = Math.Min(Mc, M - i0);
            int aPanels = (rows + Mr - 1) / Mr;
            PackA(A, ARow, ACol, i0, rows, K0, Kc, Mr, packA);
            float* tile = stackalloc float[8 * 32]; // edge tiles go through here
            for (int p = p0; p < p1; p++)
            {
                float* bPanel = PackedB + (long)p * Kc * Nr;
                int cols = Math.Min(Nr, Nc - p * Nr);
                float* cCol = C + J0 + p * Nr;
                for (int ip = 0; ip < aPanels; ip++)
                {
                    int r0 = i0 + ip * Mr;
                    int mr = Math.Min(Mr, M - r0);
                    float* aPanel = packA + (long)ip * Kc * Mr;
                    if (Wide) Kernel8x32(aPanel, bPanel, Nr, Kc, cCol + r0 * Ldc, Ldc, mr, cols, Alpha, Accumulate, tile);
                    else Kernel6x16(aPanel, bPanel, Nr, Kc, cCol + r0 * Ldc, Ldc, mr, cols, Alpha, Accumulate, tile);
                }
            }
        }
    }

    /// <summary>Packs b[k0:k0+kc, j0:j0+nc] as panels of [kc][nr], zero-padding the last panel.</summary>
    internal static void PackB(float* b, long bRow, long bCol, int k0, int kc, int j0, int nc, int nr, float* packed, bool parallel)
    {
        int panels = (nc + nr - 1) / nr;
        nint pb = (nint)b, pp = (nint)packed;
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Panel(int p)
        {
            float* dst = (float*)pp + (long)p * kc * nr;
            int cols = Math.Min(nr, nc - p * nr);
            float* src0 = (float*)pb + k0 * bRow + (long)(j0 + p * nr) * bCol;
            if (bCol == 1 && cols == nr)
            {
                for (int kk = 0; kk < kc; kk++)
                    Unsafe.CopyBlockUnaligned(dst + kk * nr, src0 + kk * bRow, (uint)(nr * sizeof(float)));
            }
            else if (bRow == 1)
            {
                // B^T row-major: each column j is contiguous over k.
                if (cols < nr) new Span<float>(dst, kc * nr).Clear();
                for (int j = 0; j < cols; j++)
                {
                    float* src = src0 + j * bCol;
                    for (int kk = 0; kk < kc; kk++) dst[kk * nr + j] = src[kk];
                }
            }
            else
            {
                for (int kk = 0; kk < kc; kk++)
                {
                    float* src = src0 + kk * bRow;
                    float* d = dst + kk * nr;
                    int j = 0;
                    for (; j < cols; j++) d[j] = src[j * bCol];
                    for (; j < nr; j++) d[j] = 0f;
                }
            }
        }
        if (parallel && panels > 1) Parallel.For(0, panels, Panel);
        else for (int p = 0; p < panels; p++) Panel(p);
    }

    /// <summary>Packs a[i0:i0+rows, k0:k0+kc] as panels of [kc][mr], zero-padding rows past the block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackA(float* a, long aRow, long aCol, int i0, int rows, int k0, int kc, int mr, float* packed)
    {
        int panels = (rows + mr - 1) / mr;
        for (int ip = 0; ip < panels; ip++)
        {
            float* dst = packed + (long)ip * kc * mr;
            int valid = Math.Min(mr, rows - ip * mr);
            float* src0 = a + (long)(i0 + ip * mr) * aRow + (long)k0 * aCol;
            if (valid < mr) new Span<float>(dst, kc * mr).Clear();
            if (aRow == 1 && valid == mr)
            {
                // A^T row-major: the mr rows of one k are contiguous.
                for (int kk = 0; kk < kc; kk++)
                    Unsafe.CopyBlockUnaligned(dst + kk * mr, src0 + kk * aCol, (uint)(mr * sizeof(float)));
            }
            else
            {
                for (int r = 0; r < valid; r++)
                {
                    float* src = src0 + r * aRow;
                    if (aCol == 1)
                        for (int kk = 0; kk < kc; kk++) dst[kk * mr + r] = src[kk];
                    else
                        for (int kk = 0; kk < kc; kk++) dst[kk * mr + r] = src[kk * aCol];
                }
            }
        }
    }

    /// <summary>
    /// C[0:mr, 0:cols] (+)= alpha * aPanel (kc x 8) ^T-packed @ bPanel (kc rows of 32, row stride
    /// ldb: 32 when packed, the matrix's row stride when read in place).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel8x32(float* ap, float* bp, long ldb, int kc, float* c, long ldc, int mr, int cols, float alpha, bool accumulate, float* tile)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(bp);
            Vector512<float> b1 = Vector512.Load(bp + 16);
            Vector512<float> a;
            a = Vector512.Create(ap[0]);
            c00 = Vector512.FusedMultiplyAdd(a, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(a, b1, c01);
            a = Vector512.Create(ap[1]);
            c10 = Vector512.FusedMultiplyAdd(a, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(a, b1, c11);
            a = Vector512.Create(ap[2]);
            c20 = Vector512.FusedMultiplyAdd(a, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(a, b1, c21);
            a = Vector512.Create(ap[3]);
            c30 = Vector512.FusedMultiplyAdd(a, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(a, b1, c31);
            a = Vector512.Create(ap[4]);
            c40 = Vector512.FusedMultiplyAdd(a, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(a, b1, c41);
            a = Vector512.Create(ap[5]);
            c50 = Vector512.FusedMultiplyAdd(a, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(a, b1, c51);
            a = Vector512.Create(ap[6]);
            c60 = Vector512.FusedMultiplyAdd(a, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(a, b1, c61);
            a = Vector512.Create(ap[7]);
            c70 = Vector512.FusedMultiplyAdd(a, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(a, b1, c71);
            ap += 8;
            bp += ldb;
        }
        // No calls while the accumulators are live: all of ymm/zmm are caller-saved, so a call
        // here would make the register allocator spill them inside the loop.
        if (mr == 8 && cols == 32)
        {
            var s = Vector512.Create(alpha);
            if (accumulate)
            {
                Vector512.Store(Vector512.FusedMultiplyAdd(c00, s, Vector512.Load(c)), c);
                Vector512.Store(Vector512.FusedMultiplyAdd(c01, s, Vector512.Load(c + 16)), c + 16);
                Vector512.Store(Vector512.FusedMultiplyAdd(c10, s, Vector512.Load(c + ldc)), c + ldc);
                Vector512.Store(Vector512.FusedMultiplyAdd(c11, s, Vector512.Load(c + ldc + 16)), c + ldc + 16);
                Vector512.Store(Vector512.FusedMultiplyAdd(c20, s, Vector512.Load(c + 2 * ldc)), c + 2 * ldc);
                Vector512.Store(Vector512.FusedMultiplyAdd(c21, s, Vector512.Load(c + 2 * ldc + 16)), c + 2 * ldc + 16);
                Vector512.Store(Vector512.FusedMultiplyAdd(c30, s, Vector512.Load(c + 3 * ldc)), c + 3 * ldc);
                Vector512.Store(Vector512.FusedMultiplyAdd(c31, s, Vector512.Load(c + 3 * ldc + 16)), c + 3 * ldc + 16);
                Vector512.Store(Vector512.FusedMultiplyAdd(c40, s, Vector512.Load(c + 4 * ldc)), c + 4 * ldc);
                Vector512.Store(Vector512.FusedMultiplyAdd(c41, s, Vector512.Load(c + 4 * ldc + 16)), c + 4 * ldc + 16);
                Vector512.Store(Vector512.FusedMultiplyAdd(c50, s, Vector512.Load(c + 5 * ldc)), c + 5 * ldc);
                Vector512.Store(Vector512.FusedMultiplyAdd(c51, s, Vector512.Load(c + 5 * ldc + 16)), c + 5 * ldc + 16);
                Vector512.Store(Vector512.FusedMultiplyAdd(c60, s, Vector512.Load(c + 6 * ldc)), c + 6 * ldc);
                Vector512.Store(Vector512.FusedMultiplyAdd(c61, s, Vector512.Load(c + 6 * ldc + 16)), c + 6 * ldc + 16);
                Vector512.Store(Vector512.FusedMultiplyAdd(c70, s, Vector512.Load(c + 7 * ldc)), c + 7 * ldc);
                Vector512.Store(Vector512.FusedMultiplyAdd(c71, s, Vector512.Load(c + 7 * ldc + 16)), c + 7 * ldc + 16);
            }
            else
            {
                Vector512.Store(c00 * s, c);
                Vector512.Store(c01 * s, c + 16);
                Vector512.Store(c10 * s, c + ldc);
                Vector512.Store(c11 * s, c + ldc + 16);
                Vector512.Store(c20 * s, c + 2 * ldc);
                Vector512.Store(c21 * s, c + 2 * ldc + 16);
                Vector512.Store(c30 * s, c + 3 * ldc);
                Vector512.Store(c31 * s, c + 3 * ldc + 16);
                Vector512.Store(c40 * s, c + 4 * ldc);
                Vector512.Store(c41 * s, c + 4 * ldc + 16);
                Vector512.Store(c50 * s, c + 5 * ldc);
                Vector512.Store(c51 * s, c + 5 * ldc + 16);
                Vector512.Store(c60 * s, c + 6 * ldc);
                Vector512.Store(c61 * s, c + 6 * ldc + 16);
                Vector512.Store(c70 * s, c + 7 * ldc);
                Vector512.Store(c71 * s, c + 7 * ldc + 16);
            }
            return;
        }
        Vector512.Store(c00, tile);
        Vector512.Store(c01, tile + 16);
        Vector512.Store(c10, tile + 32);
        Vector512.Store(c11, tile + 48);
        Vector512.Store(c20, tile + 64);
        Vector512.Store(c21, tile + 80);
        Vector512.Store(c30, tile + 96);
        Vector512.Store(c31, tile + 112);
        Vector512.Store(c40, tile + 128);
        Vector512.Store(c41, tile + 144);
        Vector512.Store(c50, tile + 160);
        Vector512.Store(c51, tile + 176);
        Vector512.Store(c60, tile + 192);
        Vector512.Store(c61, tile + 208);
        Vector512.Store(c70, tile + 224);
        Vector512.Store(c71, tile + 240);
        StoreEdge(tile, 32, c, ldc, mr, cols, alpha, accumulate);
    }

    /// <summary>C[0:mr, 0:cols] (+)= alpha * aPanel (kc x 6) @ bPanel (kc rows of 16, row stride ldb).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel6x16(float* ap, float* bp, long ldb, int kc, float* c, long ldc, int mr, int cols, float alpha, bool accumulate, float* tile)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(bp);
            Vector256<float> b1 = Vector256.Load(bp + 8);
            Vector256<float> a;
            a = Vector256.Create(ap[0]);
            c00 = Vector256.FusedMultiplyAdd(a, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(a, b1, c01);
            a = Vector256.Create(ap[1]);
            c10 = Vector256.FusedMultiplyAdd(a, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(a, b1, c11);
            a = Vector256.Create(ap[2]);
            c20 = Vector256.FusedMultiplyAdd(a, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(a, b1, c21);
            a = Vector256.Create(ap[3]);
            c30 = Vector256.FusedMultiplyAdd(a, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(a, b1, c31);
            a = Vector256.Create(ap[4]);
            c40 = Vector256.FusedMultiplyAdd(a, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(a, b1, c41);
            a = Vector256.Create(ap[5]);
            c50 = Vector256.FusedMultiplyAdd(a, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(a, b1, c51);
            ap += 6;
            bp += ldb;
        }
        if (mr == 6 && cols == 16)
        {
            var s = Vector256.Create(alpha);
            if (accumulate)
            {
                Vector256.Store(Vector256.FusedMultiplyAdd(c00, s, Vector256.Load(c)), c);
                Vector256.Store(Vector256.FusedMultiplyAdd(c01, s, Vector256.Load(c + 8)), c + 8);
                Vector256.Store(Vector256.FusedMultiplyAdd(c10, s, Vector256.Load(c + ldc)), c + ldc);
                Vector256.Store(Vector256.FusedMultiplyAdd(c11, s, Vector256.Load(c + ldc + 8)), c + ldc + 8);
                Vector256.Store(Vector256.FusedMultiplyAdd(c20, s, Vector256.Load(c + 2 * ldc)), c + 2 * ldc);
                Vector256.Store(Vector256.FusedMultiplyAdd(c21, s, Vector256.Load(c + 2 * ldc + 8)), c + 2 * ldc + 8);
                Vector256.Store(Vector256.FusedMultiplyAdd(c30, s, Vector256.Load(c + 3 * ldc)), c + 3 * ldc);
                Vector256.Store(Vector256.FusedMultiplyAdd(c31, s, Vector256.Load(c + 3 * ldc + 8)), c + 3 * ldc + 8);
                Vector256.Store(Vector256.FusedMultiplyAdd(c40, s, Vector256.Load(c + 4 * ldc)), c + 4 * ldc);
                Vector256.Store(Vector256.FusedMultiplyAdd(c41, s, Vector256.Load(c + 4 * ldc + 8)), c + 4 * ldc + 8);
                Vector256.Store(Vector256.FusedMultiplyAdd(c50, s, Vector256.Load(c + 5 * ldc)), c + 5 * ldc);
                Vector256.Store(Vector256.FusedMultiplyAdd(c51, s, Vector256.Load(c + 5 * ldc + 8)), c + 5 * ldc + 8);
            }
            else
            {
                Vector256.Store(c00 * s, c);
                Vector256.Store(c01 * s, c + 8);
                Vector256.Store(c10 * s, c + ldc);
                Vector256.Store(c11 * s, c + ldc + 8);
                Vector256.Store(c20 * s, c + 2 * ldc);
                Vector256.Store(c21 * s, c + 2 * ldc + 8);
                Vector256.Store(c30 * s, c + 3 * ldc);
                Vector256.Store(c31 * s, c + 3 * ldc + 8);
                Vector256.Store(c40 * s, c + 4 * ldc);
                Vector256.Store(c41 * s, c + 4 * ldc + 8);
                Vector256.Store(c50 * s, c + 5 * ldc);
                Vector256.Store(c51 * s, c + 5 * ldc + 8);
            }
            return;
        }
        Vector256.Store(c00, tile);
        Vector256.Store(c01, tile + 8);
        Vector256.Store(c10, tile + 16);
        Vector256.Store(c11, tile + 24);
        Vector256.Store(c20, tile + 32);
        Vector256.Store(c21, tile + 40);
        Vector256.Store(c30, tile + 48);
        Vector256.Store(c31, tile + 56);
        Vector256.Store(c40, tile + 64);
        Vector256.Store(c41, tile + 72);
        Vector256.Store(c50, tile + 80);
        Vector256.Store(c51, tile + 88);
        StoreEdge(tile, 16, c, ldc, mr, cols, alpha, accumulate);
    }

    /// <summary>C[0:mr, 0:cols] (+)= alpha * tile[0:mr, 0:cols] (tile rows of nr floats).</summary>
    private static void StoreEdge(float* tile, int nr, float* c, long ldc, int mr, int cols, float alpha, bool accumulate)
    {
        for (int r = 0; r < mr; r++)
        {
            float* t = tile + r * nr;
            float* cr = c + r * ldc;
            if (accumulate)
                for (int j = 0; j < cols; j++) cr[j] = MathF.FusedMultiplyAdd(t[j], alpha, cr[j]);
            else
                for (int j = 0; j < cols; j++) cr[j] = t[j] * alpha;
        }
    }
}
