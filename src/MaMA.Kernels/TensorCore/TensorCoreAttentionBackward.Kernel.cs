using System.Runtime.InteropServices;
using ILGPU;
using MaMA.Kernels.Layout;
using MaMA.Kernels.Random;
using static MaMA.Kernels.TensorCore.AttentionTiles;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Shape and options of one <see cref="TensorCoreAttentionBackward"/> launch (a kernel parameter:
/// flat and unmanaged); the same visibility rule as <see cref="AttentionArgs"/>. The addresses are
/// the device byte addresses of q[0], k[0], v[0] and dO[0] for cp.async, and of dq[0] for its
/// atomics (<see cref="GlobalRed"/>) (CUDA; 0 on the simulator).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct AttentionBackwardArgs
{
    public int T, Heads;
    /// <summary>D, for the record: the kernel takes its head size from its <see cref="IHeadDim"/> instantiation, as a constant.</summary>
    public int HeadDim;
    public int Causal, HasMask;
    public float Scale;
    /// <summary>1: dO is [B, T, H, D] (the heads joined, as the forward's joined output), 0: [B, H, T, D].</summary>
    public int GJoined;
    /// <summary>1: dk and dv are written in bf16 (the kernel's dk16, dv16 views), 0: fp32 (dk, dv). dq is fp32 either way (atomics).</summary>
    public int KvBf16;
    public long QAddress, KAddress, VAddress, GAddress, DqAddress;
    /// <summary>The forward's dropout on the probabilities (<see cref="AttentionArgs.Dropout"/>); <see cref="DropoutMask.Off"/>: none.</summary>
    public DropoutMask Dropout;
}

/// <summary>
/// Flash-attention backward on the tensor cores (FlashAttention-2 schedule: key tiles outer, query
/// tiles inner), bf16 q, k, v, dO and fp32 accumulation, explicitly grouped:
/// <code>
/// grid (ceil(T / 64), B * H), group 128 threads = 4 warps; the group owns keys k0 .. k0 + 63 of one
///   head, warp w keys k0 + 16w .. + 15 (it works on transposed scores: rows are keys, columns queries)
/// dynamic shared, bf16, row pitch D + 8: K [64][D+8], V [64][D+8], Q [2][64][D+8], dO [2][64][D+8],
///   dS^T [64][72]  = 63 KB (D = 64) or 111 KB (D = 128), opted in through cuFuncSetAttribute
/// per 64-query tile (from the key tile's own tile when causal) and warp, in registers:
///   S^T  = K_w Q^T             (D/16 x 8 mma; K by ldmatrix.x4, Q as the B operand by ldmatrix.x4)
///   P^T  = exp(scale S^T - lse[query])  on visible pairs, 0 elsewhere (fp32)
///   dV_w += bf16(P^T) dO        (4 x D/8 mma; P^T's C fragments re-used in place as A, dO by ldmatrix.x4.trans)
///   dP^T = V_w dO^T            (D/16 x 8 mma)
///   dS^T = P^T (dP^T - delta[query]) scale   (fp32)
///   dK_w += bf16(dS^T) Q        (4 x D/8 mma, Q by ldmatrix.x4.trans)
///   bf16(dS^T) -> shared, barrier; warp w then owns queries q0 + 16w .. + 15:
///   dQ_w = dS K               (4 x D/8 mma; dS as A by ldmatrix.x4.trans of dS^T, K by ldmatrix.x4.trans)
///   dq[query] += dQ_w           fp32 red.global into dq (zeroed by the launcher; one add per key tile)
/// with dropout (<see cref="AttentionBackwardArgs.Dropout"/>, z the forward's factors of P^T's elements):
///   dS^T = P^T (dP^T z - delta[query]) scale and P^T z, before dV_w += bf16(P^T z) dO
/// Q/dO tile i + 1 streams in by cp.async while tile i is multiplied (two buffers, one group each)
/// the query tiles run in four loops of QueryStep: the full tiles, then the masked rest (the order
///   of <see cref="QueryTiles"/>), each without or with dropout, so the hot loop carries neither's code
/// after the end: dK, dV of the group's 64 keys to global (fp32, plain stores: each key has one owner)
/// </code>
/// Inputs: q, k, v bf16 [B, H, T, D], dO bf16 [B, H, T, D] or [B, T, H, D] (<see cref="AttentionBackwardArgs.GJoined"/>); lse [B, H, T] (the forward's natural-log log-sum-exp of
/// scale q . k, +inf for a query that sees no key); delta [B, H, T] = rowsum(dO * O); keep [B, T].
/// Outputs dq fp32 [B, H, T, D], dk and dv fp32 or bf16 (<see cref="AttentionBackwardArgs.KvBf16"/>:
/// rounded in the store, the gradients' dtype for bf16 k and v). Numerics: every product is of bf16 operands (P and dS are
/// rounded to bf16 before their mma, as FlashAttention does) and every sum is fp32.
/// </summary>
public static partial class TensorCoreAttentionBackward
{
    public const int BlockQ = 64, BlockKV = 64, Warps = 4, Threads = Warps * MmaLayout.WarpSize;

    /// <summary>Row pitch of the dS^T tile: 64 queries + 8.</summary>
    public const int DsPitch = BlockQ + 8;

    /// <summary>Row pitch of the Q, K, V, dO tiles in bf16 elements.</summary>
    public static int Pitch(int headDim) => headDim + 8;

    /// <summary>Dynamic shared memory per group in bf16 elements: K, V, two Q, two dO tiles, dS^T, plus 8 for aligning the base.</summary>
    public static int SharedElements(int headDim) => 6 * BlockKV * Pitch(headDim) + BlockKV * DsPitch + 8;

    /// <summary>
    /// The kernel; <typeparamref name="TMma"/> is <see cref="PtxMma"/> on CUDA, <see cref="EmulatedMma"/> on the simulator;
    /// <typeparamref name="TDim"/> the head size (<see cref="HeadDim64"/>, <see cref="HeadDim128"/>), a constant in the code.
    /// </summary>
    public static void FlashAttentionBackwardKernel<TMma, TDim>(ArrayView<ushort> q, ArrayView<ushort> k, ArrayView<ushort> v, ArrayView<ushort> g,
        ArrayView<float> lse, ArrayView<float> delta, ArrayView<float> keep, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv,
        ArrayView<ushort> dk16, ArrayView<ushort> dv16, AttentionBackwardArgs p)
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
        int kTile = pad, vTile = pad + tile, qTiles = pad + 2 * tile, gTiles = pad + 4 * tile, dsTile = pad + 6 * tile;
        int t = p.T;
        int k0 = Grid.IdxX * BlockKV;
        int bh = Grid.IdxY;
        long head = (long)bh * t * d;
        // dO's rows: the head's own [T, D], or its D columns of the joined [B, T, H D].
        int batchIndex = bh / p.Heads;
        long gHead = JoinedHeads.Head(p.GJoined != 0, bh, batchIndex, p.Heads, t, d);
        int gStride = JoinedHeads.RowStride(p.GJoined != 0, p.Heads, d);
        long rowBase = (long)bh * t;
        long keepRow = (long)batchIndex * t;
        bool causal = p.Causal != 0;
        float scale = p.Scale;
        // Dropout: P^T's (key, query) is element (bh T + query) T + key of [B, H, T, T].
        bool dropping = p.Dropout.P > 0f, sharedBlocks = p.Dropout.RowsAligned(t);
        long dropRow = (long)bh * t;

        // Causal: queries before k0 see none of these keys. The order the query tiles run in: QueryTiles.
        // The group's 64 keys are whole when all are below T and no padding mask hides one (every
        // warp reads the same keys, so all agree, and so does the order every warp follows).
        bool keysFull = k0 + BlockKV <= t && (p.HasMask == 0 || FirstHidden(keep, keepRow + k0, BlockKV, lane) == BlockKV);
        var order = QueryTiles.For(Grid.IdxX, t, causal, keysFull);

        LoadTile(mma, smem, sbase, kTile, k, p.KAddress, head, d, k0, t, d, pitch, tid);
        LoadTile(mma, smem, sbase, vTile, v, p.VAddress, head, d, k0, t, d, pitch, tid);
        if (order.Count > 0)
        {
            int first = order.At(0) * BlockQ;
            LoadTile(mma, smem, sbase, qTiles, q, p.QAddress, head, d, first, t, d, pitch, tid);
            LoadTile(mma, smem, sbase, gTiles, g, p.GAddress, gHead, gStride, first, t, d, pitch, tid);
        }
        mma.CommitAsync();

        int g8 = lane >> 2, colT = 2 * (lane & 3);
        int keyA = k0 + warp * 16 + g8, keyB = keyA + 8;
        // Shared blocks: this lane draws block (query c + (r & 1), keys of row A or B by r >> 1) of the
        // four its quad of groups g8 = 4m .. 4m + 3 needs (r = g8 & 3): dropKeys is that block's first key.
        int quad = g8 & 3;
        var c = new QueryLoop
        {
            Smem = smem, Q = q, G = g, Lse = lse, Delta = delta, Dq = dq, Scratch = scratch, P = p, SBase = sbase,
            KTile = kTile, VTile = vTile, QTiles = qTiles, GTiles = gTiles, DsTile = dsTile, Tile = tile, Pitch = pitch, Tid = tid,
            D = d, T = t, Warp = warp, G8 = g8, ColT = colT, Quad = quad,
            KeyA = keyA, KeyB = keyB,
            VisA = keyA < t && (p.HasMask == 0 || keep[keepRow + keyA] != 0f),
            VisB = keyB < t && (p.HasMask == 0 || keep[keepRow + keyB] != 0f),
            Causal = causal, SharedBlocks = sharedBlocks,
            Head = head, GHead = gHead, GStride = gStride, RowBase = rowBase, DropRow = dropRow,
            DropKeys = (keyA - quad) + ((quad >> 1) << 3),
            ARow = (lane & 7) + 8 * ((lane >> 3) & 1), ACol = 8 * (lane >> 4),
            BRow = (lane & 7) + 8 * (lane >> 4), BCol = 8 * ((lane >> 3) & 1),
            Scale = scale,
        };
        var a = new KeyGrads();

        // The full query tiles (QueryTiles) run in a loop without the masking code, the rest (the
        // causal diagonal, the last partial tile, every tile under a padding mask) in one with it;
        // training's dropout is a second pair of loops. QueryStep's flags are constants at each call,
        // so the hot loop carries neither the masking nor the dropout code (as the forward's key loops).
        int j = 0;
        if (!dropping)
        {
            for (; j < order.Full; j++) QueryStep(mma, c, ref a, order, j, masked: false, dropping: false);
            for (; j < order.Count; j++) QueryStep(mma, c, ref a, order, j, masked: true, dropping: false);
        }
        else
        {
            for (; j < order.Full; j++) QueryStep(mma, c, ref a, order, j, masked: false, dropping: true);
            for (; j < order.Count; j++) QueryStep(mma, c, ref a, order, j, masked: true, dropping: true);
        }

        // dk, dv of the group's keys: plain stores (each key row has one owner), fp32 or rounded to bf16.
        bool kvBf16 = p.KvBf16 != 0;
        var dvRows = new OutRows(dv, dv16, kvBf16, head, d);
        var dkRows = new OutRows(dk, dk16, kvBf16, head, d);
        StoreRows(dvRows, a.Dv0, keyA, keyB, t, colT);
        StoreRows(dkRows, a.Dk0, keyA, keyB, t, colT);
        if (d > 64)
        {
            StoreRows(dvRows, a.Dv1, keyA, keyB, t, 64 + colT);
            StoreRows(dkRows, a.Dk1, keyA, keyB, t, 64 + colT);
        }
    }

    /// <summary>What a warp's query loop reads and never changes (built once per thread).</summary>
    private struct QueryLoop
    {
        public ArrayView<ushort> Smem, Q, G;
        public ArrayView<float> Lse, Delta, Dq;
        public ArrayView<uint> Scratch;
        public AttentionBackwardArgs P;
        public uint SBase;
        public int KTile, VTile, QTiles, GTiles, DsTile, Tile, Pitch, Tid, D, T, Warp, G8, ColT, Quad;
        public int KeyA, KeyB, ARow, ACol, BRow, BCol, GStride;
        public bool VisA, VisB, Causal, SharedBlocks;
        public long Head, GHead, RowBase, DropRow, DropKeys;
        public float Scale;
    }

    /// <summary>What the query loop accumulates: dV and dK of the warp's 16 keys (columns 64 .. 127 in *1 at D = 128).</summary>
    private struct KeyGrads
    {
        public FragC8 Dv0, Dv1, Dk0, Dk1;
    }

    /// <summary>
    /// The <paramref name="j"/>-th query tile of the warp (<see cref="QueryTiles.At"/>): start streaming
    /// the next one, S^T and dP^T, P^T ((masked) with the padding, causal and T bounds), (dropping: the
    /// forward's dropout factors) dV, dS^T and dK, dS^T through shared memory into dQ's atomics, and
    /// the group barrier that frees the tile's buffers. <paramref name="masked"/> and
    /// <paramref name="dropping"/> are constants at every call.
    /// </summary>
    private static void QueryStep<TMma>(TMma mma, QueryLoop c, ref KeyGrads a, QueryTiles order, int j, bool masked, bool dropping)
        where TMma : struct, IMma
    {
        AttentionBackwardArgs p = c.P;
        int qt = order.At(j), next = (j + 1) & 1, tile = c.Tile, pitch = c.Pitch, d = c.D, t = c.T;
        bool more = j + 1 < order.Count;
        NextPairOrWait(mma, more, c.Smem, c.SBase, c.QTiles + next * tile, c.Q, p.QAddress, c.GTiles + next * tile, c.G, p.GAddress,
            c.Head, c.GHead, c.GStride, (more ? order.At(j + 1) : 0) * BlockQ, t, d, pitch, c.Tid);

        int q0 = qt * BlockQ;
        int qBuf = c.QTiles + (j & 1) * tile, gBuf = c.GTiles + (j & 1) * tile;
        ArrayView<ushort> smem = c.Smem;
        ArrayView<uint> scratch = c.Scratch;
        uint sbase = c.SBase;

        // S^T = K_w Q^T and dP^T = V_w dO^T: 16 keys x 64 queries each.
        // Over D in k16 steps, unrolled (D is a constant: the second half exists only at D = 128).
        FragC8 s = default, dp = default;
        int kFrag = c.KTile + (c.Warp * 16 + c.ARow) * pitch + c.ACol, vFrag = c.VTile + (c.Warp * 16 + c.ARow) * pitch + c.ACol;
        int qFrag = qBuf + c.BRow * pitch + c.BCol, gFrag = gBuf + c.BRow * pitch + c.BCol;
        ScoreStep(mma, ref s, ref dp, smem, sbase, kFrag, qFrag, vFrag, gFrag, 0, pitch, scratch);
        ScoreStep(mma, ref s, ref dp, smem, sbase, kFrag, qFrag, vFrag, gFrag, 16, pitch, scratch);
        ScoreStep(mma, ref s, ref dp, smem, sbase, kFrag, qFrag, vFrag, gFrag, 32, pitch, scratch);
        ScoreStep(mma, ref s, ref dp, smem, sbase, kFrag, qFrag, vFrag, gFrag, 48, pitch, scratch);
        if (d > 64)
        {
            ScoreStep(mma, ref s, ref dp, smem, sbase, kFrag, qFrag, vFrag, gFrag, 64, pitch, scratch);
            ScoreStep(mma, ref s, ref dp, smem, sbase, kFrag, qFrag, vFrag, gFrag, 80, pitch, scratch);
            ScoreStep(mma, ref s, ref dp, smem, sbase, kFrag, qFrag, vFrag, gFrag, 96, pitch, scratch);
            ScoreStep(mma, ref s, ref dp, smem, sbase, kFrag, qFrag, vFrag, gFrag, 112, pitch, scratch);
        }

        // P^T (fp32) from lse, fragment by fragment.
        int col = q0 + c.ColT;
        Probabilities(mma, ref s.F0, c, col + 0, masked);
        Probabilities(mma, ref s.F1, c, col + 8, masked);
        Probabilities(mma, ref s.F2, c, col + 16, masked);
        Probabilities(mma, ref s.F3, c, col + 24, masked);
        Probabilities(mma, ref s.F4, c, col + 32, masked);
        Probabilities(mma, ref s.F5, c, col + 40, masked);
        Probabilities(mma, ref s.F6, c, col + 48, masked);
        Probabilities(mma, ref s.F7, c, col + 56, masked);

        // Dropout: dS^T from the undropped P^T and dP^T z, then P^T z for dV.
        if (dropping)
        {
            long e = (c.DropRow + col) * t + c.KeyA, own = (c.DropRow + col + (c.Quad & 1)) * t + c.DropKeys;
            DropGradient(ref dp.F0, ref s.F0, c, e + 0L * t, own + 0L * t, col + 0, masked);
            DropGradient(ref dp.F1, ref s.F1, c, e + 8L * t, own + 8L * t, col + 8, masked);
            DropGradient(ref dp.F2, ref s.F2, c, e + 16L * t, own + 16L * t, col + 16, masked);
            DropGradient(ref dp.F3, ref s.F3, c, e + 24L * t, own + 24L * t, col + 24, masked);
            DropGradient(ref dp.F4, ref s.F4, c, e + 32L * t, own + 32L * t, col + 32, masked);
            DropGradient(ref dp.F5, ref s.F5, c, e + 40L * t, own + 40L * t, col + 40, masked);
            DropGradient(ref dp.F6, ref s.F6, c, e + 48L * t, own + 48L * t, col + 48, masked);
            DropGradient(ref dp.F7, ref s.F7, c, e + 56L * t, own + 56L * t, col + 56, masked);
        }

        // dV_w += P^T dO, one 16-query chunk at a time (P^T's C fragments become the bf16 A fragment).
        Chunk(mma, ref a.Dv0, ref a.Dv1, ToA(mma, s.F0, s.F1), smem, sbase, gBuf + (0 + c.ARow) * pitch + c.ACol, d, scratch);
        Chunk(mma, ref a.Dv0, ref a.Dv1, ToA(mma, s.F2, s.F3), smem, sbase, gBuf + (16 + c.ARow) * pitch + c.ACol, d, scratch);
        Chunk(mma, ref a.Dv0, ref a.Dv1, ToA(mma, s.F4, s.F5), smem, sbase, gBuf + (32 + c.ARow) * pitch + c.ACol, d, scratch);
        Chunk(mma, ref a.Dv0, ref a.Dv1, ToA(mma, s.F6, s.F7), smem, sbase, gBuf + (48 + c.ARow) * pitch + c.ACol, d, scratch);

        // Without dropout, dS^T = P^T (dP^T - delta) scale.
        if (!dropping)
        {
            ScoreGradient(ref dp.F0, s.F0, c, col + 0, masked);
            ScoreGradient(ref dp.F1, s.F1, c, col + 8, masked);
            ScoreGradient(ref dp.F2, s.F2, c, col + 16, masked);
            ScoreGradient(ref dp.F3, s.F3, c, col + 24, masked);
            ScoreGradient(ref dp.F4, s.F4, c, col + 32, masked);
            ScoreGradient(ref dp.F5, s.F5, c, col + 40, masked);
            ScoreGradient(ref dp.F6, s.F6, c, col + 48, masked);
            ScoreGradient(ref dp.F7, s.F7, c, col + 56, masked);
        }

        // dK_w += dS^T Q.
        FragA d0 = ToA(mma, dp.F0, dp.F1), d1 = ToA(mma, dp.F2, dp.F3), d2 = ToA(mma, dp.F4, dp.F5), d3 = ToA(mma, dp.F6, dp.F7);
        Chunk(mma, ref a.Dk0, ref a.Dk1, d0, smem, sbase, qBuf + (0 + c.ARow) * pitch + c.ACol, d, scratch);
        Chunk(mma, ref a.Dk0, ref a.Dk1, d1, smem, sbase, qBuf + (16 + c.ARow) * pitch + c.ACol, d, scratch);
        Chunk(mma, ref a.Dk0, ref a.Dk1, d2, smem, sbase, qBuf + (32 + c.ARow) * pitch + c.ACol, d, scratch);
        Chunk(mma, ref a.Dk0, ref a.Dk1, d3, smem, sbase, qBuf + (48 + c.ARow) * pitch + c.ACol, d, scratch);

        // bf16 dS^T to shared: the A fragments hold rows (keys) g, g + 8 and columns (queries) 2t, 2t + 1, + 8.
        int dsRowA = c.DsTile + (c.Warp * 16 + c.G8) * DsPitch + c.ColT, dsRowB = dsRowA + 8 * DsPitch;
        // Each register is two adjacent bf16 of one row: one 32-bit store (every index here is even).
        ArrayView<uint> words = smem.Cast<uint>();
        StoreA(words, d0, dsRowA, dsRowB, 0);
        StoreA(words, d1, dsRowA, dsRowB, 16);
        StoreA(words, d2, dsRowA, dsRowB, 32);
        StoreA(words, d3, dsRowA, dsRowB, 48);
        Group.Barrier();

        // dQ for queries q0 + 16w .. + 15 over the group's 64 keys: A = dS (transposed read of dS^T), B = K.
        FragC8 dq0 = default, dq1 = default;
        int dsCol = c.DsTile + c.Warp * 16 + c.BCol, kRows = c.KTile + c.ARow * pitch + c.ACol;
        Chunk(mma, ref dq0, ref dq1, mma.LdMatrixX4(smem, sbase, dsCol + (0 + c.BRow) * DsPitch, scratch, true), smem, sbase,
            kRows + 0 * pitch, d, scratch);
        Chunk(mma, ref dq0, ref dq1, mma.LdMatrixX4(smem, sbase, dsCol + (16 + c.BRow) * DsPitch, scratch, true), smem, sbase,
            kRows + 16 * pitch, d, scratch);
        Chunk(mma, ref dq0, ref dq1, mma.LdMatrixX4(smem, sbase, dsCol + (32 + c.BRow) * DsPitch, scratch, true), smem, sbase,
            kRows + 32 * pitch, d, scratch);
        Chunk(mma, ref dq0, ref dq1, mma.LdMatrixX4(smem, sbase, dsCol + (48 + c.BRow) * DsPitch, scratch, true), smem, sbase,
            kRows + 48 * pitch, d, scratch);
        int qA = q0 + c.Warp * 16 + c.G8, qB = qA + 8;
        AddRows(mma, c, dq0, qA, qB, c.ColT, masked);
        if (d > 64) AddRows(mma, c, dq1, qA, qB, 64 + c.ColT, masked);

        // Every warp is done with the Q/dO buffer and dS^T before the next iteration refills them.
        Group.Barrier();
    }

    /// <summary>
    /// One k16 step over D at column kd: S^T += K_w[:, kd..] Q[:, kd..]^T and dP^T += V_w[:, kd..] dO[:, kd..]^T
    /// (the warp's K and V fragments by ldmatrix.x4 at <paramref name="kFrag"/> / <paramref name="vFrag"/> + kd).
    /// </summary>
    private static void ScoreStep<TMma>(TMma mma, ref FragC8 s, ref FragC8 dp, ArrayView<ushort> smem, uint sbase, int kFrag, int qFrag,
        int vFrag, int gFrag, int kd, int pitch, ArrayView<uint> scratch)
        where TMma : struct, IMma
    {
        FragA ka = mma.LdMatrixX4(smem, sbase, kFrag + kd, scratch, false);
        Row16(mma, ref s, ka, smem, sbase, qFrag + kd, pitch, scratch);
        FragA va = mma.LdMatrixX4(smem, sbase, vFrag + kd, scratch, false);
        Row16(mma, ref dp, va, smem, sbase, gFrag + kd, pitch, scratch);
    }

    /// <summary>acc (16 x 64) += A (16 x 16) B for the 64 rows of a [64][pitch] tile read as the n-major B operand at column kd.</summary>
    private static void Row16<TMma>(TMma mma, ref FragC8 acc, FragA a, ArrayView<ushort> smem, uint sbase, int element, int pitch,
        ArrayView<uint> scratch)
        where TMma : struct, IMma
    {
        MmaPair(mma, ref acc.F0, ref acc.F1, a, smem, sbase, element, scratch, trans: false);
        MmaPair(mma, ref acc.F2, ref acc.F3, a, smem, sbase, element + 16 * pitch, scratch, trans: false);
        MmaPair(mma, ref acc.F4, ref acc.F5, a, smem, sbase, element + 32 * pitch, scratch, trans: false);
        MmaPair(mma, ref acc.F6, ref acc.F7, a, smem, sbase, element + 48 * pitch, scratch, trans: false);
    }

    /// <summary>acc[:, 0 .. D) += A (16 x 16) B_chunk, the 16 x D chunk read transposed from a d-contiguous tile; columns 64 .. 127 in <paramref name="acc1"/>.</summary>
    private static void Chunk<TMma>(TMma mma, ref FragC8 acc0, ref FragC8 acc1, FragA a, ArrayView<ushort> smem, uint sbase, int element, int d,
        ArrayView<uint> scratch)
        where TMma : struct, IMma =>
        PvChunk(mma, ref acc0, ref acc1, a, smem, sbase, element, d, scratch);
}
