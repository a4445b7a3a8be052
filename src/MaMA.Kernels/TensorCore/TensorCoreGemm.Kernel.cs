using ILGPU;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Tensor-core bf16 GEMM with fp32 accumulation, explicitly grouped:
/// <code>
/// grid  (ceil(N / 128), ceil(M / 128), Batch), group 256 threads = 8 warps
/// block tile 128 (M) x 128 (N) x 32 (K); warps 2 (M) x 4 (N), warp tile 64 x 32
///   = 4 x 4 fragments of m16n8, i.e. 16 mma.m16n8k16 per 16-wide k step, 64 fp32 accumulators per lane
/// shared: As[2][128][40], Bs[2][128][40] bf16 (k contiguous, both operands; 40 = 32 + 8 padding
///   so the 8 row groups of a fragment load hit 8 different 4-bank groups), 40 KB, double-buffered
/// </code>
/// Tile kt + 1 is loaded global -> shared into the other buffer before tile kt is multiplied, so
/// one barrier per k tile suffices (the buffer written at kt was last read at kt - 1, which ended
/// with the barrier). Loads are bounds-checked and zero-filled, so M, N, K need not be multiples of
/// the tile; any strides work (threads walk the operand's fastest axis: AKFast / BKFast).
/// Fragments are read from shared memory as packed .b32 pairs exactly per <see cref="MmaLayout"/>.
/// The epilogue adds beta * C, bias and the LoRA low-rank term (see <see cref="GemmArgs"/>).
/// </summary>
public static partial class TensorCoreGemm
{
    public const int BlockM = 128, BlockN = 128, BlockK = 32, Threads = 256;

    /// <summary>Row pitch of a shared tile in bf16 elements (BlockK + 8 padding).</summary>
    public const int Pitch = BlockK + 8;

    private const int TileElements = BlockM * Pitch; // one operand, one buffer (BlockM == BlockN)

    private const int WarpTileM = 64, WarpTileN = 32;

    /// <summary>The kernel; <typeparamref name="TMma"/> is <see cref="PtxMma"/> on CUDA, <see cref="EmulatedMma"/> on the simulator.</summary>
    public static void GemmKernel<TMma>(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c, GemmArgs p,
        ArrayView<float> bias, ArrayView<float> loraU, ArrayView<float> loraB)
        where TMma : struct, IMma
    {
        TMma mma = default;
        // [buffer][operand][128][Pitch]: buffer 0 A, buffer 0 B, buffer 1 A, buffer 1 B.
        ArrayView<ushort> tiles = SharedMemory.Allocate<ushort>(4 * TileElements);
        ArrayView<uint> pairs = tiles.Cast<uint>();

        int tid = Group.IdxX;
        int lane = tid & 31, warp = tid >> 5;
        int warpRow = (warp >> 2) * WarpTileM, warpCol = (warp & 3) * WarpTileN;
        int blockRow = Grid.IdxY * BlockM, blockCol = Grid.IdxX * BlockN;
        int z = Grid.IdxZ;
        // Shared scratch for the emulated mma on the CPU simulator; empty (no allocation) on CUDA.
        ArrayView<uint> warpScratch = mma.WarpScratch(warp, Threads / MmaLayout.WarpSize);
        long aBase = z * p.ABatch, bBase = z * p.BBatch;

        FragC c00 = default, c01 = default, c02 = default, c03 = default;
        FragC c10 = default, c11 = default, c12 = default, c13 = default;
        FragC c20 = default, c21 = default, c22 = default, c23 = default;
        FragC c30 = default, c31 = default, c32 = default, c33 = default;

        int kTiles = (p.K + BlockK - 1) / BlockK;
        LoadTile(a, b, tiles, p, aBase, bBase, blockRow, blockCol, 0, 0, tid);
        Group.Barrier();
        for (int kt = 0; kt < kTiles; kt++)
        {
            if (kt + 1 < kTiles)
                LoadTile(a, b, tiles, p, aBase, bBase, blockRow, blockCol, (kt + 1) * BlockK, (kt + 1) & 1, tid);
            int aTile = (kt & 1) * 2 * TileElements, bTile = aTile + TileElements;
            for (int ks = 0; ks < BlockK; ks += MmaLayout.K)
            {
                FragA a0 = LoadA(pairs, aTile, warpRow + 0, ks, lane);
                FragA a1 = LoadA(pairs, aTile, warpRow + 16, ks, lane);
                FragA a2 = LoadA(pairs, aTile, warpRow + 32, ks, lane);
                FragA a3 = LoadA(pairs, aTile, warpRow + 48, ks, lane);
                FragB b0 = LoadB(pairs, bTile, warpCol + 0, ks, lane);
                FragB b1 = LoadB(pairs, bTile, warpCol + 8, ks, lane);
                FragB b2 = LoadB(pairs, bTile, warpCol + 16, ks, lane);
                FragB b3 = LoadB(pairs, bTile, warpCol + 24, ks, lane);
                mma.Bf16(ref c00, a0, b0, warpScratch); mma.Bf16(ref c01, a0, b1, warpScratch); mma.Bf16(ref c02, a0, b2, warpScratch); mma.Bf16(ref c03, a0, b3, warpScratch);
                mma.Bf16(ref c10, a1, b0, warpScratch); mma.Bf16(ref c11, a1, b1, warpScratch); mma.Bf16(ref c12, a1, b2, warpScratch); mma.Bf16(ref c13, a1, b3, warpScratch);
                mma.Bf16(ref c20, a2, b0, warpScratch); mma.Bf16(ref c21, a2, b1, warpScratch); mma.Bf16(ref c22, a2, b2, warpScratch); mma.Bf16(ref c23, a2, b3, warpScratch);
                mma.Bf16(ref c30, a3, b0, warpScratch); mma.Bf16(ref c31, a3, b1, warpScratch); mma.Bf16(ref c32, a3, b2, warpScratch); mma.Bf16(ref c33, a3, b3, warpScratch);
            }
            Group.Barrier();
        }

        int row0 = blockRow + warpRow, col0 = blockCol + warpCol;
        Store(c, p, bias, loraU, loraB, z, row0 + 0, col0, lane, c00, c01, c02, c03);
        Store(c, p, bias, loraU, loraB, z, row0 + 16, col0, lane, c10, c11, c12, c13);
        Store(c, p, bias, loraU, loraB, z, row0 + 32, col0, lane, c20, c21, c22, c23);
        Store(c, p, bias, loraU, loraB, z, row0 + 48, col0, lane, c30, c31, c32, c33);
    }

    /// <summary>
    /// Global -> shared for the 128 x 32 slices of A and B starting at k0, into buffer <paramref name="buffer"/>,
    /// zero beyond M, N, K. 4096 elements per operand over 256 threads: 16 each, walking the
    /// operand's contiguous axis so a warp's loads coalesce.
    /// </summary>
    private static void LoadTile(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<ushort> tiles, GemmArgs p,
        long aBase, long bBase, int blockRow, int blockCol, int k0, int buffer, int tid)
    {
        int aTile = buffer * 2 * TileElements, bTile = aTile + TileElements;
        for (int i = 0; i < BlockM * BlockK / Threads; i++)
        {
            // k fastest: 8 rows x 32 k per pass; else rows fastest: 128 rows x 2 k per pass.
            int r = p.AKFast != 0 ? (tid >> 5) + 8 * i : tid & (BlockM - 1);
            int k = p.AKFast != 0 ? tid & (BlockK - 1) : (tid >> 7) + 2 * i;
            int gr = blockRow + r, gk = k0 + k;
            tiles[aTile + r * Pitch + k] = gr < p.M && gk < p.K ? a[aBase + gr * p.ARow + gk * p.ACol] : (ushort)0;

            int n = p.BKFast != 0 ? (tid >> 5) + 8 * i : tid & (BlockN - 1);
            int kb = p.BKFast != 0 ? tid & (BlockK - 1) : (tid >> 7) + 2 * i;
            int gn = blockCol + n, gkb = k0 + kb;
            tiles[bTile + n * Pitch + kb] = gn < p.N && gkb < p.K ? b[bBase + gkb * p.BRow + gn * p.BCol] : (ushort)0;
        }
    }

    /// <summary>A fragment of rows [row, row + 16) and k [ks, ks + 16) of the A tile; each register is one .b32 pair.</summary>
    private static FragA LoadA(ArrayView<uint> pairs, int tile, int row, int ks, int lane)
    {
        FragA f;
        f.R0 = pairs[(tile + (row + MmaLayout.ARow(lane, 0)) * Pitch + ks + MmaLayout.ACol(lane, 0)) >> 1];
        f.R1 = pairs[(tile + (row + MmaLayout.ARow(lane, 2)) * Pitch + ks + MmaLayout.ACol(lane, 2)) >> 1];
        f.R2 = pairs[(tile + (row + MmaLayout.ARow(lane, 4)) * Pitch + ks + MmaLayout.ACol(lane, 4)) >> 1];
        f.R3 = pairs[(tile + (row + MmaLayout.ARow(lane, 6)) * Pitch + ks + MmaLayout.ACol(lane, 6)) >> 1];
        return f;
    }

    /// <summary>B fragment of columns [col, col + 8) and k [ks, ks + 16) of the (n-major, k contiguous) B tile.</summary>
    private static FragB LoadB(ArrayView<uint> pairs, int tile, int col, int ks, int lane)
    {
        FragB f;
        f.R0 = pairs[(tile + (col + MmaLayout.BCol(lane, 0)) * Pitch + ks + MmaLayout.BRow(lane, 0)) >> 1];
        f.R1 = pairs[(tile + (col + MmaLayout.BCol(lane, 2)) * Pitch + ks + MmaLayout.BRow(lane, 2)) >> 1];
        return f;
    }

    /// <summary>The four m16n8 fragments of one 16-row strip of the warp tile (columns col0 + 0, 8, 16, 24).</summary>
    private static void Store(ArrayView<float> c, GemmArgs p, ArrayView<float> bias, ArrayView<float> loraU, ArrayView<float> loraB,
        int z, int row, int col0, int lane, FragC f0, FragC f1, FragC f2, FragC f3)
    {
        StoreFragment(c, p, bias, loraU, loraB, z, row, col0 + 0, lane, f0);
        StoreFragment(c, p, bias, loraU, loraB, z, row, col0 + 8, lane, f1);
        StoreFragment(c, p, bias, loraU, loraB, z, row, col0 + 16, lane, f2);
        StoreFragment(c, p, bias, loraU, loraB, z, row, col0 + 24, lane, f3);
    }

    private static void StoreFragment(ArrayView<float> c, GemmArgs p, ArrayView<float> bias, ArrayView<float> loraU, ArrayView<float> loraB,
        int z, int row, int col, int lane, FragC f)
    {
        StoreElement(c, p, bias, loraU, loraB, z, row + MmaLayout.CRow(lane, 0), col + MmaLayout.CCol(lane, 0), f.C0);
        StoreElement(c, p, bias, loraU, loraB, z, row + MmaLayout.CRow(lane, 1), col + MmaLayout.CCol(lane, 1), f.C1);
        StoreElement(c, p, bias, loraU, loraB, z, row + MmaLayout.CRow(lane, 2), col + MmaLayout.CCol(lane, 2), f.C2);
        StoreElement(c, p, bias, loraU, loraB, z, row + MmaLayout.CRow(lane, 3), col + MmaLayout.CCol(lane, 3), f.C3);
    }

    /// <summary>C(row, col) = alpha acc + beta C + bias[col] + s U[row, :] . L[col, :]; r is small (LoRA rank), so the dot is cheap next to K.</summary>
    private static void StoreElement(ArrayView<float> c, GemmArgs p, ArrayView<float> bias, ArrayView<float> loraU, ArrayView<float> loraB,
        int z, int row, int col, float acc)
    {
        if (row >= p.M || col >= p.N) return;
        long idx = z * p.CBatch + row * p.Ldc + col;
        float v = p.Alpha * acc;
        if (p.Beta != 0f) v += p.Beta * c[idx];
        if (p.HasBias != 0) v += bias[col];
        if (p.LoraRank > 0)
        {
            float low = 0f;
            long u = (long)row * p.LoraRank, l = (long)col * p.LoraRank;
            for (int j = 0; j < p.LoraRank; j++) low += loraU[u + j] * loraB[l + j];
            v += p.LoraScale * low;
        }
        c[idx] = v;
    }
}
