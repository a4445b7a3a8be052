using ILGPU;
using MaMA.Kernels.Layout;
using MaMA.Kernels.Random;
using static MaMA.Kernels.TensorCore.AttentionTiles;

namespace MaMA.Kernels.TensorCore;

/// <summary>A 16 x 64 fp32 tile held by one warp as 8 m16n8 C fragments (columns 8j .. 8j + 7 in F{j}).</summary>
public struct FragC8
{
    public FragC F0, F1, F2, F3, F4, F5, F6, F7;
}

/// <summary>A warp's Q fragments for one 16-row tile: the A operand of k16 steps 0 .. 3 (D = 64), and 4 .. 7 at D = 128.</summary>
public struct QFrags
{
    public FragA K0, K1, K2, K3, K4, K5, K6, K7;
}

/// <summary>
/// Flash-attention forward on the tensor cores (FlashAttention-2 schedule), bf16 q, k, v and fp32
/// accumulation, explicitly grouped:
/// <code>
/// grid (ceil(T / BlockQ), B * H), group 128 threads = 4 warps, R row tiles per warp (R = 2 at D = 64,
///   1 at D = 128: <see cref="IHeadDim.RowTiles"/>), BlockQ = 64 R; warp w owns query rows
///   q0 + 16w .. + 15 and, with R = 2, q0 + 64 + 16w .. + 15
/// Q: each lane's A fragments read once from global memory into registers (R x D/16 FragA)
/// dynamic shared, bf16, row pitch D + 8: K [2][64][D+8], V [2][64][D+8]
///   = 36 KB (D = 64) or 68 KB (D = 128, opted in through cuFuncSetAttribute)
/// per 64-key tile and warp: S = Q K^T (D/16 k16 steps; each K fragment pair by ldmatrix.x4 feeds
///   2 R mma), online softmax in registers on the unscaled scores (quad shuffles for row max / sum;
///   P = exp2(S c - m c) with c = scale log2 e, one FMA and one ex2 per score), P rounded to bf16 and re-used
///   in place as the A operand (C layout of two n8 tiles = A layout of one k16 step),
///   O += P V (4 key chunks; each V fragment pair by ldmatrix.x4.trans feeds 2 R mma)
/// K/V tile kt + 1 streams in by cp.async while tile kt is multiplied (two buffers, one group each)
/// the key tiles run in four loops of KeyStep: tiles no row of the group masks, then the masked
///   rest, each without or with dropout, so the hot loop carries neither's code
/// </code>
/// With R = 2 a warp does 128 mma per 32 ldmatrix.x4 per key tile, where R = 1 at D = 64 did 64 per
/// 36 (the Q fragments were re-read every tile): one ldmatrix.x4 moves 512 bytes and an SM's shared
/// memory about 128 bytes a clock, so one row tile kept the tensor cores waiting on shared memory.
/// With <see cref="AttentionArgs.Dropout"/> active, P is multiplied by its dropout factors after the
/// row sums took it and before it is rounded for P V: one Philox block per lane and fragment when
/// rows start blocks (T and the mask's base multiples of 4: lanes 2u, 2u + 1 hold one block's four
/// columns of rows A and B, draw one row's block each and swap the keep bits by one shuffle), else
/// one per lane, row and fragment.
/// The output is [B, H, T, D], or [B, T, H, D] with <see cref="AttentionArgs.JoinHeads"/> (the heads
/// joined as the output projection reads them), in fp32 (<c>o</c>) or, with
/// <see cref="AttentionArgs.OutBf16"/>, bf16 (<c>o16</c>, rounded to nearest even); and the
/// natural-log log-sum-exp [B, H, T] that the backward kernels take (+inf and a zero row for a
/// query that sees no key, as the fp32 kernel).
/// </summary>
public static partial class TensorCoreAttention
{
    public const int BlockKV = 64, Warps = 4, Threads = Warps * MmaLayout.WarpSize;

    /// <summary>Query rows per group: 16 per warp and row tile (128 at D = 64, 64 at D = 128).</summary>
    public static int BlockQ(int headDim) => Warps * 16 * RowTiles(headDim);

    /// <summary>Row tiles per warp (<see cref="IHeadDim.RowTiles"/>) for a supported head size.</summary>
    public static int RowTiles(int headDim) => headDim == 64 ? default(HeadDim64).RowTiles : default(HeadDim128).RowTiles;

    /// <summary>Row pitch of the shared tiles in bf16 elements: D + 8 puts the 8 rows of an ldmatrix in 8 different bank quads.</summary>
    public static int Pitch(int headDim) => headDim + 8;

    /// <summary>Dynamic shared memory per group in bf16 elements: two K and two V tiles, plus 8 for aligning the base to 16 bytes.</summary>
    public static int SharedElements(int headDim) => 4 * BlockKV * Pitch(headDim) + 8;

    /// <summary>
    /// The kernel; <typeparamref name="TMma"/> is <see cref="PtxMma"/> on CUDA, <see cref="EmulatedMma"/> on the simulator;
    /// <typeparamref name="TDim"/> the head size (<see cref="HeadDim64"/>, <see cref="HeadDim128"/>) and row
    /// tiles per warp, constants in the code.
    /// </summary>
    public static void FlashAttentionKernel<TMma, TDim>(ArrayView<ushort> q, ArrayView<ushort> k, ArrayView<ushort> v, ArrayView<float> keep,
        ArrayView<float> o, ArrayView<ushort> o16, ArrayView<float> lse, AttentionArgs p)
        where TMma : struct, IMma
        where TDim : struct, IHeadDim
    {
        TMma mma = default;
        ArrayView<ushort> smem = SharedMemory.GetDynamic<ushort>();
        int tid = Group.IdxX;
        int lane = tid & 31, warp = tid >> 5;
        ArrayView<uint> scratch = mma.WarpScratch(warp, Warps);
        uint sbase = mma.SharedBase();
        int pad = AlignmentPad(sbase);

        int d = default(TDim).Value, pitch = d + 8, tile = BlockKV * pitch;
        // A second row tile exists only at D = 64 (its O is one FragC8; RowTiles is 1 at D = 128).
        bool two = default(TDim).RowTiles == 2;
        int blockQ = Warps * 16 * default(TDim).RowTiles;
        int kTiles = pad, vTiles = pad + 2 * tile;
        int t = p.T;
        int q0 = Grid.IdxX * blockQ;
        int bh = Grid.IdxY;
        long head = (long)bh * t * d;
        int batchIndex = bh / p.Heads;
        long keepRow = (long)batchIndex * t;
        bool causal = p.Causal != 0;
        // Dropout: probability (row, key) of this head is element (bh T + row) T + key of [B, H, T, T].
        bool dropping = p.Dropout.P > 0f, sharedBlocks = p.Dropout.RowsAligned(t);
        long dropRow = (long)bh * t;

        int kvEnd = causal ? XMin(t, q0 + blockQ) : t;
        int nTiles = (kvEnd + BlockKV - 1) / BlockKV;

        // The first K/V tile: one cp.async group.
        if (nTiles > 0)
        {
            LoadTile(mma, smem, sbase, kTiles, k, p.KAddress, head, d, 0, t, d, pitch, tid);
            LoadTile(mma, smem, sbase, vTiles, v, p.VAddress, head, d, 0, t, d, pitch, tid);
        }
        mma.CommitAsync();

        // The key tiles that no row of this group masks (inside T, when causal wholly at or before
        // the group's first row, and before the first key a padding mask hides) run in a loop
        // without the masking code, the rest (the last partial tile, the causal diagonal, tiles from
        // the first hidden key on) in one with it; training's dropout is a second pair of loops.
        // KeyStep's flags are constants at each call, so each loop holds only its own code: in one
        // loop the masking and dropout branches' joins cost about 200 register moves per key tile
        // and the dropout code sat between the hot instructions (docs/gpu-kernels.md, "ptxas
        // without a card"). Every warp reads the same keys, so all agree on the count.
        int fullTiles = t / BlockKV;
        if (causal) fullTiles = XMin(fullTiles, (q0 + 1) / BlockKV);
        fullTiles = XMin(fullTiles, nTiles);
        if (p.HasMask != 0 && fullTiles > 0) fullTiles = FirstHidden(keep, keepRow, fullTiles * BlockKV, lane) / BlockKV;

        // Row tile 0: rows first0 .. + 15 (this lane: A = first0 + g, B = A + 8); tile 1, 64 rows below.
        int first0 = q0 + warp * 16, first1 = first0 + 64;
        int g8 = lane >> 2, colT = 2 * (lane & 3);
        var c = new KeyLoop
        {
            Smem = smem, K = k, V = v, Keep = keep, Scratch = scratch, P = p, SBase = sbase,
            KTiles = kTiles, VTiles = vTiles, Tile = tile, Pitch = pitch, Tid = tid, D = d, T = t, Tiles = nTiles,
            Lane = lane, ColT = colT, Two = two, Causal = causal, SharedBlocks = sharedBlocks,
            First0 = first0, First1 = first1, RowA0 = first0 + g8, RowB0 = first0 + g8 + 8, RowA1 = first1 + g8, RowB1 = first1 + g8 + 8,
            LastRow = two ? first1 + 15 : first0 + 15,
            Head = head, KeepRow = keepRow, DropRow = dropRow,
            // ldmatrix row addresses of this lane: V (trans, A-operand pattern) and K (B operand) patterns.
            ARow = (lane & 7) + 8 * ((lane >> 3) & 1), ACol = 8 * (lane >> 4),
            BRow = (lane & 7) + 8 * (lane >> 4), BCol = 8 * ((lane >> 3) & 1),
            C2 = p.Scale * Exp2Ftz.Log2E,
        };
        // Q in registers for the whole key loop, read while the first K/V tile streams in.
        QFrags qa0 = LoadQ(q, head, c.RowA0, c.RowB0, t, d, colT), qa1 = two ? LoadQ(q, head, c.RowA1, c.RowB1, t, d, colT) : default;
        // Row maxima m of the unscaled scores: scale > 0 (the launcher checks), so max(scale S) = scale max(S).
        var w = new RowState
        {
            MA0 = float.NegativeInfinity, MB0 = float.NegativeInfinity,
            MA1 = float.NegativeInfinity, MB1 = float.NegativeInfinity,
        };

        int kt = 0;
        if (!dropping)
        {
            for (; kt < fullTiles; kt++) KeyStep(mma, c, qa0, qa1, ref w, kt, masked: false, dropping: false);
            for (; kt < nTiles; kt++) KeyStep(mma, c, qa0, qa1, ref w, kt, masked: true, dropping: false);
        }
        else
        {
            for (; kt < fullTiles; kt++) KeyStep(mma, c, qa0, qa1, ref w, kt, masked: false, dropping: true);
            for (; kt < nTiles; kt++) KeyStep(mma, c, qa0, qa1, ref w, kt, masked: true, dropping: true);
        }

        // The output's rows: the head's own [T, D], or its D columns of the joined [B, T, H D].
        bool joined = p.JoinHeads != 0;
        var dst = new OutRows(o, o16, p.OutBf16 != 0, JoinedHeads.Head(joined, bh, batchIndex, p.Heads, t, d), JoinedHeads.RowStride(joined, p.Heads, d));
        long lseRow = (long)bh * t;
        Finish(dst, w.O0, w.O1, lse, lseRow, w.LA0, w.LB0, w.MA0, w.MB0, c.RowA0, c.RowB0, t, d, colT, lane, p.Scale);
        // Tile 1 exists only at D = 64: its O is U0 alone (d = 64 skips the columns 64 .. 127 half).
        if (two) Finish(dst, w.U0, w.U0, lse, lseRow, w.LA1, w.LB1, w.MA1, w.MB1, c.RowA1, c.RowB1, t, 64, colT, lane, p.Scale);
    }

    /// <summary>What a warp's key loop reads and never changes (built once per thread).</summary>
    private struct KeyLoop
    {
        public ArrayView<ushort> Smem, K, V;
        public ArrayView<float> Keep;
        public ArrayView<uint> Scratch;
        public AttentionArgs P;
        public uint SBase;
        public int KTiles, VTiles, Tile, Pitch, Tid, D, T, Tiles, Lane, ColT;
        public int First0, First1, RowA0, RowB0, RowA1, RowB1, LastRow, ARow, ACol, BRow, BCol;
        public bool Two, Causal, SharedBlocks;
        public long Head, KeepRow, DropRow;
        public float C2;
    }

    /// <summary>
    /// What the key loop carries per row tile: O (tile 0: columns 0 .. 63 in O0, 64 .. 127 in O1 at
    /// D = 128; tile 1, D = 64 only: U0) and the running row maxima m and sums l of rows A and B.
    /// </summary>
    private struct RowState
    {
        public FragC8 O0, O1, U0;
        public float MA0, MB0, LA0, LB0, MA1, MB1, LA1, LB1;
    }

    /// <summary>
    /// One 64-key tile kt of the warp: start streaming tile kt + 1, S = Q K^T, (masked: the padding
    /// and causal mask) the online softmax and O's rescale, (dropping: dropout on P), O += P V, and
    /// the group barrier that frees tile kt's buffer. <paramref name="masked"/> and
    /// <paramref name="dropping"/> are constants at every call.
    /// </summary>
    private static void KeyStep<TMma>(TMma mma, KeyLoop c, QFrags qa0, QFrags qa1, ref RowState w, int kt, bool masked, bool dropping)
        where TMma : struct, IMma
    {
        AttentionArgs p = c.P;
        int next = (kt + 1) & 1;
        NextPairOrWait(mma, kt + 1 < c.Tiles, c.Smem, c.SBase, c.KTiles + next * c.Tile, c.K, p.KAddress, c.VTiles + next * c.Tile, c.V, p.VAddress,
            c.Head, c.Head, c.D, (kt + 1) * BlockKV, c.T, c.D, c.Pitch, c.Tid);

        int kv0 = kt * BlockKV;
        // Warp-uniform: a causal tile wholly after this warp's last row contributes nothing. Only a
        // masked tile can be one (a full tile ends at or before the group's first row), so the
        // full-tile loop has no such branch, nor the ~56 register copies at its join.
        if (!masked || !c.Causal || kv0 <= c.LastRow)
        {
            int kBuf = c.KTiles + (kt & 1) * c.Tile, vBuf = c.VTiles + (kt & 1) * c.Tile;
            int d = c.D, pitch = c.Pitch;
            bool two = c.Two;
            // S = Q K^T over D in k16 steps, unrolled (D is a constant: the second half exists only at D = 128).
            FragC8 s0 = default, s1 = default;
            int kFrag = kBuf + c.BRow * pitch + c.BCol;
            QkStep(mma, ref s0, ref s1, qa0.K0, qa1.K0, two, c.Smem, c.SBase, kFrag + 0, pitch, c.Scratch);
            QkStep(mma, ref s0, ref s1, qa0.K1, qa1.K1, two, c.Smem, c.SBase, kFrag + 16, pitch, c.Scratch);
            QkStep(mma, ref s0, ref s1, qa0.K2, qa1.K2, two, c.Smem, c.SBase, kFrag + 32, pitch, c.Scratch);
            QkStep(mma, ref s0, ref s1, qa0.K3, qa1.K3, two, c.Smem, c.SBase, kFrag + 48, pitch, c.Scratch);
            if (d > 64)
            {
                QkStep(mma, ref s0, ref s1, qa0.K4, qa1.K4, two, c.Smem, c.SBase, kFrag + 64, pitch, c.Scratch);
                QkStep(mma, ref s0, ref s1, qa0.K5, qa1.K5, two, c.Smem, c.SBase, kFrag + 80, pitch, c.Scratch);
                QkStep(mma, ref s0, ref s1, qa0.K6, qa1.K6, two, c.Smem, c.SBase, kFrag + 96, pitch, c.Scratch);
                QkStep(mma, ref s0, ref s1, qa0.K7, qa1.K7, two, c.Smem, c.SBase, kFrag + 112, pitch, c.Scratch);
            }

            // Mask, online softmax and rescale of O, one row tile at a time.
            if (masked) MaskTile(ref s0, kv0, c.ColT, c.First0, c.RowA0, c.RowB0, p, c.Keep, c.KeepRow);
            Softmax(mma, ref s0, ref w.MA0, ref w.MB0, ref w.LA0, ref w.LB0, c.C2, out float corrA0, out float corrB0);
            Rescale(ref w.O0, corrA0, corrB0);
            if (d > 64) Rescale(ref w.O1, corrA0, corrB0);
            // Dropout (training) on P after the row sums took it.
            if (dropping) DropTile(ref s0, p.Dropout, (c.DropRow + c.RowA0) * c.T + kv0 + c.ColT, (c.DropRow + c.RowB0) * c.T + kv0 + c.ColT, c.SharedBlocks, c.Lane);
            if (two)
            {
                if (masked) MaskTile(ref s1, kv0, c.ColT, c.First1, c.RowA1, c.RowB1, p, c.Keep, c.KeepRow);
                Softmax(mma, ref s1, ref w.MA1, ref w.MB1, ref w.LA1, ref w.LB1, c.C2, out float corrA1, out float corrB1);
                Rescale(ref w.U0, corrA1, corrB1);
                if (dropping) DropTile(ref s1, p.Dropout, (c.DropRow + c.RowA1) * c.T + kv0 + c.ColT, (c.DropRow + c.RowB1) * c.T + kv0 + c.ColT, c.SharedBlocks, c.Lane);
            }

            // O += P V, one 16-key chunk at a time; P's C fragments become the bf16 A fragment.
            int vFrag = vBuf + c.ARow * pitch + c.ACol;
            PvChunk(mma, ref w.O0, ref w.O1, ref w.U0, ToA(mma, s0.F0, s0.F1), two ? ToA(mma, s1.F0, s1.F1) : default, two, c.Smem, c.SBase,
                vFrag + 0 * pitch, d, c.Scratch);
            PvChunk(mma, ref w.O0, ref w.O1, ref w.U0, ToA(mma, s0.F2, s0.F3), two ? ToA(mma, s1.F2, s1.F3) : default, two, c.Smem, c.SBase,
                vFrag + 16 * pitch, d, c.Scratch);
            PvChunk(mma, ref w.O0, ref w.O1, ref w.U0, ToA(mma, s0.F4, s0.F5), two ? ToA(mma, s1.F4, s1.F5) : default, two, c.Smem, c.SBase,
                vFrag + 32 * pitch, d, c.Scratch);
            PvChunk(mma, ref w.O0, ref w.O1, ref w.U0, ToA(mma, s0.F6, s0.F7), two ? ToA(mma, s1.F6, s1.F7) : default, two, c.Smem, c.SBase,
                vFrag + 48 * pitch, d, c.Scratch);
        }
        // Every warp is done with buffer kt & 1 before iteration kt + 1 refills it.
        Group.Barrier();
    }

    private static int XMin(int a, int b) => a < b ? a : b;
}
