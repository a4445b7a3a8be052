using ILGPU;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Tensor-core bf16 GEMM with fp32 accumulation, explicitly grouped:
/// <code>
/// grid  (ceil(N / 128), ceil(M / 128), Batch), group 256 threads = 8 warps
/// block tile 128 (M) x 128 (N) x 32 (K); warps 2 (M) x 4 (N), warp tile 64 x 32
///   = 4 x 4 fragments of m16n8, i.e. 16 mma.m16n8k16 per 16-wide k step, 64 fp32 accumulators per lane
/// dynamic shared, bf16: a ring of S stages (S = 2 .. 4, GemmArgs.Stages), each an A and a B tile
///   of 20 KB: 40 KB (S = 2, under the 48 KB that needs no opt-in), 60 KB or 80 KB (opted in);
///   each operand in the layout of its fastest axis:
///   k contiguous (A [M, K] row-major, B = W^T of an [N, K] weight):  [128][32 + 8]
///   m or n contiguous (A = X^T, B [K, N] row-major):                  [32][128 + 8]
/// per 16-wide k step and warp: 4 ldmatrix.x4 for the A fragments and 2 for the B fragment pairs
///   (.trans for an m- or n-contiguous tile), then 16 mma
/// </code>
/// The pitches put the 8 rows of each ldmatrix in 8 different 4-bank groups. The pipeline keeps
/// S - 1 tiles in flight: while tile kt is multiplied, tiles kt + 1 .. kt + S - 1 stream in, by
/// cp.async (16-byte chunks, <see cref="GemmArgs.AAsync"/>) where the operand's fast axis is
/// unit-stride, 16-byte aligned and a multiple of 8 long, else element by element through registers
/// (any strides and sizes, zero-filled past M, N, K). One barrier per k tile: after it every warp is
/// done with tile kt - 1, whose stage the next load takes. The k loop is compiled once per pair of
/// layouts, and again for when both operands load by cp.async (<see cref="KLoop"/>'s flags are
/// constants at each call), so the usual loop has no layout branches and no element-wise load code.
/// The epilogue adds beta * C, bias and the LoRA low-rank term (see <see cref="GemmArgs"/>).
/// </summary>
public static partial class TensorCoreGemm
{
    public const int BlockM = 128, BlockN = 128, BlockK = 32, Threads = 256;

    /// <summary>Row pitch of a k-contiguous tile [128][KPitch] in bf16 elements (BlockK + 8).</summary>
    public const int KPitch = BlockK + 8;

    /// <summary>Row pitch of an m- or n-contiguous tile [BlockK][MnPitch] in bf16 elements (128 + 8).</summary>
    public const int MnPitch = BlockM + 8;

    /// <summary>One operand tile of one stage, either layout (BlockM == BlockN; 128 x 40 >= 32 x 136).</summary>
    public const int SlotElements = BlockM * KPitch;

    /// <summary>One pipeline stage: an A and a B tile (20 KB).</summary>
    public const int StageElements = 2 * SlotElements;

    /// <summary>The pipeline depths the kernel takes (<see cref="GemmArgs.Stages"/>): two stages is double buffering.</summary>
    public const int MinStages = 2, MaxStages = 4;

    /// <summary>Dynamic shared memory per group in bf16 elements for <paramref name="stages"/> stages, plus 8 for aligning the base to 16 bytes.</summary>
    public static int SharedElements(int stages) => stages * StageElements + 8;

    private const int WarpTileM = 64, WarpTileN = 32;

    /// <summary>The kernel; <typeparamref name="TMma"/> is <see cref="PtxMma"/> on CUDA, <see cref="EmulatedMma"/> on the simulator.</summary>
    public static void GemmKernel<TMma>(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> c, GemmArgs p,
        ArrayView<float> bias, ArrayView<float> loraU, ArrayView<float> loraB)
        where TMma : struct, IMma
    {
        TMma mma = default;
        ArrayView<ushort> smem = SharedMemory.GetDynamic<ushort>();
        int tid = Group.IdxX;
        int lane = tid & 31, warp = tid >> 5;
        // Shared scratch for the emulated mma on the CPU simulator; empty (no allocation) on CUDA.
        ArrayView<uint> scratch = mma.WarpScratch(warp, Threads / MmaLayout.WarpSize);
        uint sbase = mma.SharedBase();

        var g = new GemmTile
        {
            A = a, B = b, Smem = smem, Scratch = scratch, P = p, SBase = sbase,
            // Stage s: A tile at Slots + s StageElements, B tile right after it.
            Slots = AttentionTiles.AlignmentPad(sbase), Tid = tid,
            WarpRow = (warp >> 2) * WarpTileM, WarpCol = (warp & 3) * WarpTileN,
            BlockRow = Grid.IdxY * BlockM, BlockCol = Grid.IdxX * BlockN,
            ABase = Grid.IdxZ * p.ABatch, BBase = Grid.IdxZ * p.BBatch,
            // This lane's row of an ldmatrix.x4 in the two address patterns: "A" (matrices 0-3 =
            // rows 0-7, 8-15 at column 0, then both at column 8) and "B" (rows 0-7 at columns 0, 8,
            // then rows 8-15 at columns 0, 8), as the attention kernels use them.
            ARow = (lane & 7) + 8 * ((lane >> 3) & 1), ACol = 8 * (lane >> 4),
            BRow = (lane & 7) + 8 * (lane >> 4), BCol = 8 * ((lane >> 3) & 1),
        };
        var acc = new WarpAcc();

        bool aK = p.AKFast != 0, bK = p.BKFast != 0;
        int kTiles = (p.K + BlockK - 1) / BlockK, stages = p.Stages;
        // Prologue: tiles 0 .. S - 2 into stages 0 .. S - 2, one commit group each (empty past the
        // last tile), so that the loop's wait for tile kt always leaves S - 2 younger groups in flight.
        for (int s = 0; s < stages - 1; s++)
        {
            if (s < kTiles) LoadTiles(mma, g, s * BlockK, s, aK, bK, bothAsync: false);
            mma.CommitAsync();
        }
        // Both operands by cp.async (the usual case) in loops without the element-wise load code.
        if (p.AAsync != 0 && p.BAsync != 0)
        {
            if (aK && bK) KLoop(mma, g, ref acc, kTiles, stages, aK: true, bK: true, bothAsync: true);
            else if (aK) KLoop(mma, g, ref acc, kTiles, stages, aK: true, bK: false, bothAsync: true);
            else if (bK) KLoop(mma, g, ref acc, kTiles, stages, aK: false, bK: true, bothAsync: true);
            else KLoop(mma, g, ref acc, kTiles, stages, aK: false, bK: false, bothAsync: true);
        }
        else
        {
            if (aK && bK) KLoop(mma, g, ref acc, kTiles, stages, aK: true, bK: true, bothAsync: false);
            else if (aK) KLoop(mma, g, ref acc, kTiles, stages, aK: true, bK: false, bothAsync: false);
            else if (bK) KLoop(mma, g, ref acc, kTiles, stages, aK: false, bK: true, bothAsync: false);
            else KLoop(mma, g, ref acc, kTiles, stages, aK: false, bK: false, bothAsync: false);
        }

        int row0 = g.BlockRow + g.WarpRow, col0 = g.BlockCol + g.WarpCol, z = Grid.IdxZ;
        Store(c, p, bias, loraU, loraB, z, row0 + 0, col0, lane, acc.C00, acc.C01, acc.C02, acc.C03);
        Store(c, p, bias, loraU, loraB, z, row0 + 16, col0, lane, acc.C10, acc.C11, acc.C12, acc.C13);
        Store(c, p, bias, loraU, loraB, z, row0 + 32, col0, lane, acc.C20, acc.C21, acc.C22, acc.C23);
        Store(c, p, bias, loraU, loraB, z, row0 + 48, col0, lane, acc.C30, acc.C31, acc.C32, acc.C33);
    }

    /// <summary>What a thread's k loop reads and never changes (built once per thread).</summary>
    private struct GemmTile
    {
        public ArrayView<ushort> A, B, Smem;
        public ArrayView<uint> Scratch;
        public GemmArgs P;
        public uint SBase;
        public int Slots, Tid, WarpRow, WarpCol, BlockRow, BlockCol, ARow, ACol, BRow, BCol;
        public long ABase, BBase;
    }

    /// <summary>The warp's 64 x 32 tile: 4 x 4 m16n8 fragments, C{i}{j} rows 16i, columns 8j.</summary>
    private struct WarpAcc
    {
        public FragC C00, C01, C02, C03, C10, C11, C12, C13, C20, C21, C22, C23, C30, C31, C32, C33;
    }

    /// <summary>
    /// The k loop over a ring of <paramref name="stages"/> stages. Iteration kt waits for tile kt
    /// (cp.async groups complete in order, and S - 2 younger ones may stay in flight; element-wise
    /// loads are complete when issued), passes the one barrier, starts tile kt + S - 1 into the stage
    /// that tile kt - 1 used (every warp is past it now), commits that as a group (empty near the
    /// end, to keep the count), and multiplies tile kt in two k16 steps.
    /// <paramref name="aK"/> and <paramref name="bK"/> (the operands' layouts) and <paramref name="bothAsync"/>
    /// (both load by cp.async) are constants at every call.
    /// </summary>
    private static void KLoop<TMma>(TMma mma, GemmTile g, ref WarpAcc acc, int kTiles, int stages, bool aK, bool bK, bool bothAsync)
        where TMma : struct, IMma
    {
        int read = 0, write = stages - 1;
        for (int kt = 0; kt < kTiles; kt++)
        {
            mma.WaitAsync(stages - 2);
            Group.Barrier();
            int next = kt + stages - 1;
            if (next < kTiles) LoadTiles(mma, g, next * BlockK, write, aK, bK, bothAsync);
            mma.CommitAsync();
            int aSlot = g.Slots + read * StageElements, bSlot = aSlot + SlotElements;
            KStep(mma, g, ref acc, aSlot, bSlot, 0, aK, bK);
            KStep(mma, g, ref acc, aSlot, bSlot, 16, aK, bK);
            read = read + 1 == stages ? 0 : read + 1;
            write = write + 1 == stages ? 0 : write + 1;
        }
    }

    /// <summary>
    /// The warp's 16 mma for k16 step <paramref name="ks"/> of the tile: A fragments of rows
    /// WarpRow + 0, 16, 32, 48 and B fragment pairs of columns WarpCol + 0 .. 15 and 16 .. 31.
    /// In a k-contiguous tile an A fragment is read as the attention kernels read K as A, and a B
    /// pair as they read K as B; in an m- or n-contiguous tile they are read transposed, as dS and V.
    /// </summary>
    private static void KStep<TMma>(TMma mma, GemmTile g, ref WarpAcc acc, int aSlot, int bSlot, int ks, bool aK, bool bK)
        where TMma : struct, IMma
    {
        int aAt = aK ? aSlot + (g.WarpRow + g.ARow) * KPitch + ks + g.ACol : aSlot + (ks + g.BRow) * MnPitch + g.WarpRow + g.BCol;
        int aNext = aK ? 16 * KPitch : 16;
        FragA a0 = mma.LdMatrixX4(g.Smem, g.SBase, aAt, g.Scratch, !aK);
        FragA a1 = mma.LdMatrixX4(g.Smem, g.SBase, aAt + aNext, g.Scratch, !aK);
        FragA a2 = mma.LdMatrixX4(g.Smem, g.SBase, aAt + 2 * aNext, g.Scratch, !aK);
        FragA a3 = mma.LdMatrixX4(g.Smem, g.SBase, aAt + 3 * aNext, g.Scratch, !aK);
        int bAt = bK ? bSlot + (g.WarpCol + g.BRow) * KPitch + ks + g.BCol : bSlot + (ks + g.ARow) * MnPitch + g.WarpCol + g.ACol;
        int bNext = bK ? 16 * KPitch : 16;
        AttentionTiles.LoadBPair(mma, g.Smem, g.SBase, bAt, g.Scratch, !bK, out FragB b0, out FragB b1);
        AttentionTiles.LoadBPair(mma, g.Smem, g.SBase, bAt + bNext, g.Scratch, !bK, out FragB b2, out FragB b3);
        ArrayView<uint> s = g.Scratch;
        mma.Bf16(ref acc.C00, a0, b0, s); mma.Bf16(ref acc.C01, a0, b1, s); mma.Bf16(ref acc.C02, a0, b2, s); mma.Bf16(ref acc.C03, a0, b3, s);
        mma.Bf16(ref acc.C10, a1, b0, s); mma.Bf16(ref acc.C11, a1, b1, s); mma.Bf16(ref acc.C12, a1, b2, s); mma.Bf16(ref acc.C13, a1, b3, s);
        mma.Bf16(ref acc.C20, a2, b0, s); mma.Bf16(ref acc.C21, a2, b1, s); mma.Bf16(ref acc.C22, a2, b2, s); mma.Bf16(ref acc.C23, a2, b3, s);
        mma.Bf16(ref acc.C30, a3, b0, s); mma.Bf16(ref acc.C31, a3, b1, s); mma.Bf16(ref acc.C32, a3, b2, s); mma.Bf16(ref acc.C33, a3, b3, s);
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
