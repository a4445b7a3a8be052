using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MaMA.Kernels.Cpu;

namespace MaMA.Kernels.Linear;

/// <summary>
/// Fast CPU fp32 GEMM: C = alpha * A @ B + beta * C with element strides on A and B (so transposed
/// operands cost nothing) and a row-major C (row stride ldc).
/// <para>
/// GotoBLAS/BLIS-style blocking, laid out for a 32 KiB L1 and a private 1 MiB L2 per core (Zen 4).
/// A is packed once for the whole depth (per row chunk of at most ~32 MiB) into MR-row micro-panels
/// per KC-deep block, all cores packing in one fork-join. Then one dynamic fork-join runs work items
/// that each own a block of at most 16 NR-wide column panels (and, when there are few, a group of
/// rows) over all depth blocks: per depth block the item packs its B block (kc x 512 at most, 512 KiB)
/// into its own buffer, which stays in its core's L2, and sweeps it with one A micro-panel at a time
/// (8 KiB, stays in L1), so the micro-kernel streams B panels from L2 and never waits on another
/// core. The column blocks are a multiple of the core count with panels spread evenly. Each element
/// of C sums its depth blocks in order with a fixed micro-kernel order, so the result does not
/// depend on the core count or on which core ran what.
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
    /// <summary>Most column panels per work item: a 256 x 512 B block (512 KiB) stays in a 1 MiB L2.</summary>
    private const int MaxBlockPanels = 16;
    /// <summary>Packed A is bounded to about this many bytes; more rows go in row chunks.</summary>
    private const long PackALimit = 32L << 20;

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

        int panels = (n + nr - 1) / nr;
        int kcMax = Math.Min(KC, k);
        int threads = Environment.ProcessorCount > 1 && (long)m * n * k >= 1 << 20 ? Environment.ProcessorCount : 1;
        // Row chunks bound the packed A (all of k for the chunk's rows) to about PackALimit bytes.
        long aBytes = (long)RoundUp(m, mr) * k * sizeof(float);
        int chunks = (int)Math.Max(1, (aBytes + PackALimit - 1) / PackALimit);
        int chunkRows = RoundUp((m + chunks - 1) / chunks, mr);
        // Column blocks of at most MaxBlockPanels panels, a multiple of the thread count of them
        // (panels spread evenly), so the dynamic claiming ends with every core busy.
        int perThread = (panels + threads * MaxBlockPanels - 1) / (threads * MaxBlockPanels);
        int colItems = Math.Min(panels, threads * perThread);
        float* packedA = (float*)Cpu.ScratchMemory.AlignedAlloc((long)Math.Min(chunkRows, RoundUp(m, mr)) * k * sizeof(float), 64, "Sgemm packed A");
        try
        {
            for (int i0 = 0; i0 < m; i0 += chunkRows)
            {
                int rows = Math.Min(chunkRows, m - i0);
                int aPanels = (rows + mr - 1) / mr;
                int kBlocks = (k + KC - 1) / KC;
                // Rows are split too only when the column blocks alone leave cores idle.
                int rowGroups = colItems >= 2 * threads || threads == 1 ? 1 : Math.Min(aPanels, (2 * threads + colItems - 1) / colItems);
                var job = new Job
                {
                    A = a, ARow = aRow, ACol = aCol, B = b, BRow = bRow, BCol = bCol, C = c, Ldc = ldc, M = m, N = n, K = k,
                    I0 = i0, Rows = rows, APanels = aPanels, Mr = mr, Nr = nr, KcMax = kcMax, Panels = panels, ColItems = colItems,
                    RowGroups = rowGroups, PackedA = packedA, Alpha = alpha, Beta0 = beta == 0f, Wide = wide,
                };
                // A's packing groups: 8 micro-panels of one depth block each.
                int aGroups = (aPanels + 7) / 8;
                job.AGroups = aGroups;
                int packItems = kBlocks * aGroups;
                int items = rowGroups * colItems;
                if (threads == 1)
                {
                    for (int item = 0; item < packItems; item++) job.PackAItem(item);
                    for (int item = 0; item < items; item++) job.Run(item);
                }
                else
                {
                    Cpu.CpuParallel.ForClaimed(packItems, job.PackAItem);
                    Cpu.CpuParallel.ForClaimed(items, job.Run);
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(packedA);
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

    /// <summary>
    /// One row chunk's shared state. A is packed for the whole depth up front as
    /// [depth block][micro-panel][kc][mr]; each work item owns a block of column panels (and, when
    /// there are few, a group of rows), packs its B block per depth block into its own buffer
    /// (which stays in its core's L2), and sweeps it with each A micro-panel in turn (which stays in L1).
    /// </summary>
    private sealed class Job
    {
        public float* A, B, C, PackedA;
        public long ARow, ACol, BRow, BCol, Ldc;
        public int M, N, K, I0, Rows, APanels, AGroups, Mr, Nr, KcMax, Panels, ColItems, RowGroups;
        public float Alpha;
        public bool Beta0, Wide;

        /// <summary>Packs micro-panels [8 g, 8 g + 8) of depth block item / AGroups (g = item % AGroups).</summary>
        public void PackAItem(int item)
        {
            int kb = item / AGroups, g = item % AGroups;
            int k0 = kb * KC, kc = Math.Min(KC, K - k0);
            int r0 = g * 8 * Mr;
            int rows = Math.Min(8 * Mr, Rows - r0);
            float* dst = PackedA + (long)k0 * APanels * Mr + (long)g * 8 * kc * Mr;
            PackA(A, ARow, ACol, I0 + r0, rows, k0, kc, Mr, dst);
        }

        /// <summary>Row group item / ColItems, column block item % ColItems, all depth blocks.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int item)
        {
            int rg = item / ColItems, cb = item % ColItems;
            int p0 = (int)((long)cb * Panels / ColItems), p1 = (int)((long)(cb + 1) * Panels / ColItems);
            int ip0 = (int)((long)rg * APanels / RowGroups), ip1 = (int)((long)(rg + 1) * APanels / RowGroups);
            float* packB = (float*)Cpu.ScratchMemory.AlignedAlloc((long)(p1 - p0) * Nr * KcMax * sizeof(float), 64, "Sgemm packed B");
            try
            {
                RunBlock(p0, p1, ip0, ip1, packB);
            }
            finally
            {
                NativeMemory.AlignedFree(packB);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void RunBlock(int p0, int p1, int ip0, int ip1, float* packB)
        {
            int j0 = p0 * Nr;
            int nc = Math.Min((p1 - p0) * Nr, N - j0);
            float* tile = stackalloc float[8 * 32]; // edge tiles go through here
            int rowEnd = I0 + Rows;
            for (int k0 = 0; k0 < K; k0 += KC)
            {
                int kc = Math.Min(KC, K - k0);
                bool accumulate = k0 > 0 || !Beta0;
                PackB(B, BRow, BCol, k0, kc, j0, nc, Nr, packB, parallel: false);
                float* aBase = PackedA + (long)k0 * APanels * Mr;
                for (int ip = ip0; ip < ip1; ip++)
                {
                    int r0 = I0 + ip * Mr;
                    int mr = Math.Min(Mr, rowEnd - r0);
                    float* aPanel = aBase + (long)ip * kc * Mr;
                    float* cRow = C + r0 * Ldc;
                    for (int p = p0; p < p1; p++)
                    {
                        float* bPanel = packB + (long)(p - p0) * kc * Nr;
                        int cols = Math.Min(Nr, N - p * Nr);
                        if (Wide) Kernel8x32(aPanel, bPanel, Nr, kc, cRow + p * Nr, Ldc, mr, cols, Alpha, accumulate, tile);
                        else Kernel6x16(aPanel, bPanel, Nr, kc, cRow + p * Nr, Ldc, mr, cols, Alpha, accumulate, tile);
                    }
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
                if (nr == 32)
                {
                    for (int kk = 0; kk < kc; kk++)
                    {
                        float* s = src0 + kk * bRow;
                        Vector512.Store(Vector512.Load(s), dst + kk * 32);
                        Vector512.Store(Vector512.Load(s + 16), dst + kk * 32 + 16);
                    }
                }
                else
                {
                    for (int kk = 0; kk < kc; kk++)
                        Unsafe.CopyBlockUnaligned(dst + kk * nr, src0 + kk * bRow, (uint)(nr * sizeof(float)));
                }
            }
            else if (bRow == 1)
            {
                // B^T row-major: each column j is contiguous over k.
                if (cols < nr) new Span<float>(dst, kc * nr).Clear();
                int j = 0, kc8 = Avx.IsSupported ? kc & ~7 : 0;
                if (kc8 > 0)
                {
                    for (; j + 8 <= cols; j += 8)
                    {
                        float* src = src0 + j * bCol;
                        for (int kk = 0; kk < kc8; kk += 8) BlockTranspose.Transpose8x8(src + kk, bCol, dst + kk * nr + j, nr);
                        for (int jj = j; jj < j + 8; jj++)
                            for (int kk = kc8; kk < kc; kk++) dst[kk * nr + jj] = src0[jj * bCol + kk];
                    }
                }
                for (; j < cols; j++)
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
                int r = 0, kc8 = Avx.IsSupported && aCol == 1 ? kc & ~7 : 0;
                if (kc8 > 0)
                {
                    for (; r + 8 <= valid; r += 8)
                    {
                        float* src = src0 + r * aRow;
                        for (int kk = 0; kk < kc8; kk += 8) BlockTranspose.Transpose8x8(src + kk, aRow, dst + kk * mr + r, mr);
                        for (int rr = r; rr < r + 8; rr++)
                            for (int kk = kc8; kk < kc; kk++) dst[kk * mr + rr] = src0[rr * aRow + kk];
                    }
                }
                for (; r < valid; r++)
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
        if (Sse.IsSupported)
        {
            // C's tile is read only after the depth loop: start fetching it now (prefetches never fault).
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + 16);
            Sse.Prefetch0(c + ldc);
            Sse.Prefetch0(c + ldc + 16);
            Sse.Prefetch0(c + 2 * ldc);
            Sse.Prefetch0(c + 2 * ldc + 16);
            Sse.Prefetch0(c + 3 * ldc);
            Sse.Prefetch0(c + 3 * ldc + 16);
            Sse.Prefetch0(c + 4 * ldc);
            Sse.Prefetch0(c + 4 * ldc + 16);
            Sse.Prefetch0(c + 5 * ldc);
            Sse.Prefetch0(c + 5 * ldc + 16);
            Sse.Prefetch0(c + 6 * ldc);
            Sse.Prefetch0(c + 6 * ldc + 16);
            Sse.Prefetch0(c + 7 * ldc);
            Sse.Prefetch0(c + 7 * ldc + 16);
        }
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
