using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Strided-to-strided copy of elements of 1, 2, 4 or 8 bytes on the fast CPU backend (Contiguous,
/// writes into slices). Axes are coalesced; rows are walked with an odometer; a row whose source and
/// destination are both unit-stride is one block copy, any other row a strided gather/scatter.
/// When the source's innermost stride is not 1 but another axis of it is (a transposed view), the
/// two axes are copied in square tiles so both sides are read and written in cache-line runs
/// (fp32 tiles as 8 x 8 AVX register transposes where AVX is available).
/// Rows are split into ~64K-element work items across cores.
/// </summary>
public static unsafe class StridedCopySimd
{
    private const int Tile = 16;

    /// <summary>dst[idx] = src[idx] over <paramref name="shape"/>; both pointers at their view's first element; strides in elements.</summary>
    public static void Copy(ReadOnlySpan<int> shape, byte* src, ReadOnlySpan<long> srcStrides, byte* dst, ReadOnlySpan<long> dstStrides, int width)
    {
        if (width is not (1 or 2 or 4 or 8)) throw new ArgumentOutOfRangeException(nameof(width), width, "Element width must be 1, 2, 4 or 8 bytes.");
        int rank0 = Math.Max(shape.Length, 1);
        long[] dims = new long[rank0], ss = new long[rank0], ds = new long[rank0];
        long numel = 1;
        for (int d = 0; d < shape.Length; d++)
        {
            dims[d] = shape[d];
            ss[d] = srcStrides[d];
            ds[d] = dstStrides[d];
            numel *= shape[d];
        }
        if (shape.Length == 0) dims[0] = 1;
        if (numel == 0) return;
        int rank = StridedLayout.Coalesce(dims, ss, ds);
        nint ps = (nint)src, pd = (nint)dst;

        if (rank >= 2 && ss[rank - 1] != 1 && ds[rank - 1] == 1 && TransposedAxis(ss, rank) is int k and >= 0)
        {
            CopyTiled(dims, ss, ds, rank, k, src, dst, width);
            return;
        }

        long len = dims[rank - 1], rows = numel / len;
        long si = ss[rank - 1], di = ds[rank - 1];
        CpuParallel.For(rows, CpuParallel.ChunkFor(len), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            var cursor = new RowCursor(dims, rank, first, ss, ds);
            for (long r = 0; r < count; r++)
            {
                Row((byte*)ps + cursor.Offset0 * width, si, (byte*)pd + cursor.Offset1 * width, di, len, width);
                cursor.Next();
            }
        });
    }

    /// <summary>The source axis (not the last) with unit stride, if any.</summary>
    private static int TransposedAxis(long[] ss, int rank)
    {
        for (int d = rank - 2; d >= 0; d--)
            if (ss[d] == 1) return d;
        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row(byte* s, long si, byte* d, long di, long n, int width)
    {
        if (si == 1 && di == 1)
        {
            long bytes = n * width;
            if (bytes > 1024)
            {
                Buffer.MemoryCopy(s, d, bytes, bytes);
                return;
            }
            // Short rows (e.g. one attention head's 64 floats): inline vector moves, no call per row.
            long i = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; i <= bytes - 32; i += 32) Vector256.Store(Vector256.Load(s + i), d + i);
            for (; i <= bytes - 8; i += 8) *(ulong*)(d + i) = *(ulong*)(s + i);
            for (; i < bytes; i++) d[i] = s[i];
            return;
        }
        switch (width)
        {
            case 4: for (long j = 0; j < n; j++) ((uint*)d)[j * di] = ((uint*)s)[j * si]; break;
            case 2: for (long j = 0; j < n; j++) ((ushort*)d)[j * di] = ((ushort*)s)[j * si]; break;
            case 8: for (long j = 0; j < n; j++) ((ulong*)d)[j * di] = ((ulong*)s)[j * si]; break;
            default: for (long j = 0; j < n; j++) d[j * di] = s[j * si]; break;
        }
    }

    /// <summary>
    /// Axis k (source stride 1) and the last axis (destination stride 1) are cut into Tile x Tile
    /// blocks; every other axis is an outer loop. Work items: (outer index, block row of axis k).
    /// </summary>
    private static void CopyTiled(long[] dims, long[] ss, long[] ds, int rank, int k, byte* src, byte* dst, int width)
    {
        // Outer axes: all but k and the last, walked by an odometer over their own layout.
        int outerRank = rank - 2;
        long[] oDims = new long[outerRank + 1], oSs = new long[outerRank + 1], oDs = new long[outerRank + 1];
        for (int d = 0, o = 0; d < rank - 1; d++)
        {
            if (d == k) continue;
            oDims[o] = dims[d];
            oSs[o] = ss[d];
            oDs[o] = ds[d];
            o++;
        }
        oDims[outerRank] = 1; // a dummy innermost axis: RowCursor walks axes 0..rank-2
        long outer = 1;
        for (int o = 0; o < outerRank; o++) outer *= oDims[o];
        long kLen = dims[k], jLen = dims[rank - 1];
        long kDs = ds[k], jSs = ss[rank - 1];
        long kBlocks = (kLen + Tile - 1) / Tile;
        nint ps = (nint)src, pd = (nint)dst;
        long perItem = Tile * jLen;
        CpuParallel.For(outer * kBlocks, CpuParallel.ChunkFor(perItem), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count) =>
        {
            for (long item = first; item < first + count; item++)
            {
                long o = item / kBlocks, k0 = item % kBlocks * Tile;
                var cursor = new RowCursor(oDims, outerRank + 1, o, oSs, oDs);
                byte* s = (byte*)ps + (cursor.Offset0 + k0) * width;
                byte* d = (byte*)pd + (cursor.Offset1 + k0 * kDs) * width;
                int kc = (int)Math.Min(Tile, kLen - k0);
                for (long j0 = 0; j0 < jLen; j0 += Tile)
                {
                    int jc = (int)Math.Min(Tile, jLen - j0);
                    Block(s + j0 * jSs * width, jSs, d + j0 * width, kDs, kc, jc, width);
                }
            }
        });
    }

    /// <summary>d[kk * kDs + jj] = s[jj * jSs + kk] for a kc x jc block (elements of width bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Block(byte* s, long jSs, byte* d, long kDs, int kc, int jc, int width)
    {
        switch (width)
        {
            case 4:
                int k8 = 0, j8 = 0;
                if (Avx.IsSupported && kc >= 8 && jc >= 8)
                {
                    k8 = kc & ~7;
                    j8 = jc & ~7;
                    for (int kk = 0; kk < k8; kk += 8)
                        for (int jj = 0; jj < j8; jj += 8)
                            BlockTranspose.Transpose8x8((float*)s + jj * jSs + kk, jSs, (float*)d + kk * kDs + jj, kDs);
                }
                // Whatever the 8 x 8 blocks left: the right strip (jj >= j8) for every kk, the bottom strip for jj < j8.
                for (int kk = 0; kk < kc; kk++)
                {
                    uint* dr = (uint*)d + kk * kDs;
                    uint* sc = (uint*)s + kk;
                    for (int jj = kk < k8 ? j8 : 0; jj < jc; jj++) dr[jj] = sc[jj * jSs];
                }
                break;
            case 2:
                for (int kk = 0; kk < kc; kk++)
                {
                    ushort* dr = (ushort*)d + kk * kDs;
                    ushort* sc = (ushort*)s + kk;
                    for (int jj = 0; jj < jc; jj++) dr[jj] = sc[jj * jSs];
                }
                break;
            case 8:
                for (int kk = 0; kk < kc; kk++)
                {
                    ulong* dr = (ulong*)d + kk * kDs;
                    ulong* sc = (ulong*)s + kk;
                    for (int jj = 0; jj < jc; jj++) dr[jj] = sc[jj * jSs];
                }
                break;
            default:
                for (int kk = 0; kk < kc; kk++)
                {
                    byte* dr = d + kk * kDs;
                    byte* sc = s + kk;
                    for (int jj = 0; jj < jc; jj++) dr[jj] = sc[jj * jSs];
                }
                break;
        }
    }
}
