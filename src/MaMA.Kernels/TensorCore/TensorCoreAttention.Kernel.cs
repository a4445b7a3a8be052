using ILGPU;
using ILGPU.Algorithms;
using static MaMA.Kernels.TensorCore.AttentionTiles;

namespace MaMA.Kernels.TensorCore;

/// <summary>A 16 x 64 fp32 tile held by one warp as 8 m16n8 C fragments (columns 8j .. 8j + 7 in F{j}).</summary>
public struct FragC8
{
    public FragC F0, F1, F2, F3, F4, F5, F6, F7;
}

/// <summary>
/// Flash-attention forward on the tensor cores (FlashAttention-2 schedule), bf16 q, k, v and fp32
/// accumulation, explicitly grouped:
/// <code>
/// grid (ceil(T / 64), B * H), group 128 threads = 4 warps; warp w owns query rows q0 + 16w .. + 15
/// dynamic shared, bf16, row pitch D + 8: Q [64][D+8], K [2][64][D+8], V [2][64][D+8]
///   = 46 KB (D = 64) or 87 KB (D = 128, opted in through cuFuncSetAttribute)
/// per 64-key tile and warp: S = Q K^T (D/16 x 8 mma, Q and K fragments by ldmatrix.x4),
///   online softmax in registers on the unscaled scores (quad shuffles for row max / sum;
///   P = exp2(S c - m c) with c = scale log2 e, one FMA and one ex2 per score), P rounded to bf16 and re-used
///   in place as the A operand (C layout of two n8 tiles = A layout of one k16 step),
///   O += P V (4 x D/8 mma, V fragments by ldmatrix.x4.trans)
/// K/V tile kt + 1 streams in by cp.async while tile kt is multiplied (two buffers, one group each)
/// </code>
/// The output is [B, H, T, D], or [B, T, H, D] with <see cref="AttentionArgs.JoinHeads"/> (the heads
/// joined as the output projection reads them), in fp32 (<c>o</c>) or, with
/// <see cref="AttentionArgs.OutBf16"/>, bf16 (<c>o16</c>, rounded to nearest even); and the
/// natural-log log-sum-exp [B, H, T] that the backward kernels take (+inf and a zero row for a
/// query that sees no key, as the fp32 kernel).
/// </summary>
public static partial class TensorCoreAttention
{
    public const int BlockQ = 64, BlockKV = 64, Warps = 4, Threads = Warps * MmaLayout.WarpSize;

    /// <summary>Row pitch of the shared tiles in bf16 elements: D + 8 puts the 8 rows of an ldmatrix in 8 different bank quads.</summary>
    public static int Pitch(int headDim) => headDim + 8;

    /// <summary>Dynamic shared memory per group in bf16 elements: Q, two K and two V tiles, plus 8 for aligning the base to 16 bytes.</summary>
    public static int SharedElements(int headDim) => 5 * BlockQ * Pitch(headDim) + 8;

    /// <summary>
    /// The kernel; <typeparamref name="TMma"/> is <see cref="PtxMma"/> on CUDA, <see cref="EmulatedMma"/> on the simulator;
    /// <typeparamref name="TDim"/> the head size (<see cref="HeadDim64"/>, <see cref="HeadDim128"/>), a constant in the code.
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

        int d = default(TDim).Value, pitch = d + 8, tile = BlockQ * pitch;
        int qTile = pad, kTiles = pad + tile, vTiles = pad + 3 * tile;
        int t = p.T;
        int q0 = Grid.IdxX * BlockQ;
        int bh = Grid.IdxY;
        long head = (long)bh * t * d;
        int batchIndex = bh / p.Heads;
        long keepRow = (long)batchIndex * t;
        bool causal = p.Causal != 0;

        int kvEnd = causal ? XMin(t, q0 + BlockQ) : t;
        int nTiles = (kvEnd + BlockKV - 1) / BlockKV;

        // Q and the first K/V tile: one cp.async group.
        LoadTile(mma, smem, sbase, qTile, q, p.QAddress, head, d, q0, t, d, pitch, tid);
        if (nTiles > 0)
        {
            LoadTile(mma, smem, sbase, kTiles, k, p.KAddress, head, d, 0, t, d, pitch, tid);
            LoadTile(mma, smem, sbase, vTiles, v, p.VAddress, head, d, 0, t, d, pitch, tid);
        }
        mma.CommitAsync();

        int rowA = q0 + warp * 16 + (lane >> 2), rowB = rowA + 8;
        int colT = 2 * (lane & 3);
        // Row maxima m of the unscaled scores: scale > 0 (the launcher checks), so max(scale S) = scale max(S).
        float mA = float.NegativeInfinity, mB = float.NegativeInfinity, lA = 0f, lB = 0f;
        float c2 = p.Scale * Log2E;
        FragC8 o0 = default, o1 = default;
        // ldmatrix row addresses of this lane: A operand / V (trans) and K (B operand) patterns.
        int aRow = (lane & 7) + 8 * ((lane >> 3) & 1), aCol = 8 * (lane >> 4);
        int bRow = (lane & 7) + 8 * (lane >> 4), bCol = 8 * ((lane >> 3) & 1);

        for (int kt = 0; kt < nTiles; kt++)
        {
            int next = (kt + 1) & 1;
            NextPairOrWait(mma, kt + 1 < nTiles, smem, sbase, kTiles + next * tile, k, p.KAddress, vTiles + next * tile, v, p.VAddress,
                head, head, d, (kt + 1) * BlockKV, t, d, pitch, tid);

            int kv0 = kt * BlockKV;
            // Warp-uniform: a causal tile wholly after this warp's last row contributes nothing.
            if (!causal || kv0 <= q0 + warp * 16 + 15)
            {
                int kBuf = kTiles + (kt & 1) * tile, vBuf = vTiles + (kt & 1) * tile;
                // S = Q K^T over D in k16 steps, unrolled (D is a constant: the second half exists only at D = 128).
                FragC8 s = default;
                int qFrag = qTile + (warp * 16 + aRow) * pitch + aCol, kFrag = kBuf + bRow * pitch + bCol;
                QkStep(mma, ref s, smem, sbase, qFrag, kFrag, 0, pitch, scratch);
                QkStep(mma, ref s, smem, sbase, qFrag, kFrag, 16, pitch, scratch);
                QkStep(mma, ref s, smem, sbase, qFrag, kFrag, 32, pitch, scratch);
                QkStep(mma, ref s, smem, sbase, qFrag, kFrag, 48, pitch, scratch);
                if (d > 64)
                {
                    QkStep(mma, ref s, smem, sbase, qFrag, kFrag, 64, pitch, scratch);
                    QkStep(mma, ref s, smem, sbase, qFrag, kFrag, 80, pitch, scratch);
                    QkStep(mma, ref s, smem, sbase, qFrag, kFrag, 96, pitch, scratch);
                    QkStep(mma, ref s, smem, sbase, qFrag, kFrag, 112, pitch, scratch);
                }

                // Mask (-inf) only in tiles where some key can be invisible; full tiles are left as they are.
                bool full = p.HasMask == 0 && kv0 + BlockKV <= t && (!causal || kv0 + BlockKV - 1 <= q0 + warp * 16);
                if (!full)
                {
                    int c = kv0 + colT;
                    Mask(ref s.F0, c + 0, rowA, rowB, p, keep, keepRow);
                    Mask(ref s.F1, c + 8, rowA, rowB, p, keep, keepRow);
                    Mask(ref s.F2, c + 16, rowA, rowB, p, keep, keepRow);
                    Mask(ref s.F3, c + 24, rowA, rowB, p, keep, keepRow);
                    Mask(ref s.F4, c + 32, rowA, rowB, p, keep, keepRow);
                    Mask(ref s.F5, c + 40, rowA, rowB, p, keep, keepRow);
                    Mask(ref s.F6, c + 48, rowA, rowB, p, keep, keepRow);
                    Mask(ref s.F7, c + 56, rowA, rowB, p, keep, keepRow);
                }

                // Online softmax: the 4 lanes of a quad hold one row's 64 scores between them.
                float newA = XMax(mA, QuadMax(RowMaxA(s))), newB = XMax(mB, QuadMax(RowMaxB(s)));
                // exp(scale (S - m)) = exp2(S c - m c); a row with no visible key so far keeps base 0 (its terms are exp2(-inf) = 0).
                float baseA = newA == float.NegativeInfinity ? 0f : newA * c2, baseB = newB == float.NegativeInfinity ? 0f : newB * c2;
                float corrA = XMath.Exp2(mA * c2 - baseA), corrB = XMath.Exp2(mB * c2 - baseB);
                mA = newA;
                mB = newB;
                Rescale(ref o0, corrA, corrB);
                if (d > 64) Rescale(ref o1, corrA, corrB);
                float sumA = 0f, sumB = 0f;
                Exp2(ref s.F0, c2, baseA, baseB, ref sumA, ref sumB);
                Exp2(ref s.F1, c2, baseA, baseB, ref sumA, ref sumB);
                Exp2(ref s.F2, c2, baseA, baseB, ref sumA, ref sumB);
                Exp2(ref s.F3, c2, baseA, baseB, ref sumA, ref sumB);
                Exp2(ref s.F4, c2, baseA, baseB, ref sumA, ref sumB);
                Exp2(ref s.F5, c2, baseA, baseB, ref sumA, ref sumB);
                Exp2(ref s.F6, c2, baseA, baseB, ref sumA, ref sumB);
                Exp2(ref s.F7, c2, baseA, baseB, ref sumA, ref sumB);
                lA = lA * corrA + sumA;  // lane-partial sums; the quad is summed once at the end
                lB = lB * corrB + sumB;

                // O += P V, one 16-key chunk at a time; P's C fragments become the bf16 A fragment.
                PvChunk(mma, ref o0, ref o1, ToA(mma, s.F0, s.F1), smem, sbase, vBuf + (0 + aRow) * pitch + aCol, d, scratch);
                PvChunk(mma, ref o0, ref o1, ToA(mma, s.F2, s.F3), smem, sbase, vBuf + (16 + aRow) * pitch + aCol, d, scratch);
                PvChunk(mma, ref o0, ref o1, ToA(mma, s.F4, s.F5), smem, sbase, vBuf + (32 + aRow) * pitch + aCol, d, scratch);
                PvChunk(mma, ref o0, ref o1, ToA(mma, s.F6, s.F7), smem, sbase, vBuf + (48 + aRow) * pitch + aCol, d, scratch);
            }
            // Every warp is done with buffer kt & 1 before iteration kt + 1 refills it.
            Group.Barrier();
        }

        lA = QuadSum(lA);
        lB = QuadSum(lB);
        float invA = lA > 0f ? 1f / lA : 0f, invB = lB > 0f ? 1f / lB : 0f;
        // The output's rows: the head's own [T, D], or its D columns of the joined [B, T, H D].
        var dst = new OutRows(o, o16, p.OutBf16 != 0, p.JoinHeads != 0 ? OutRows.JoinedHead(bh, batchIndex, p.Heads, t, d) : head,
            p.JoinHeads != 0 ? p.Heads * d : d);
        Store(dst, o0, rowA, rowB, t, colT, invA, invB);
        if (d > 64) Store(dst, o1, rowA, rowB, t, 64 + colT, invA, invB);
        if ((lane & 3) == 0)
        {
            // Natural log-sum-exp of the scaled scores: scale m + ln l.
            if (rowA < t) lse[(long)bh * t + rowA] = lA > 0f ? p.Scale * mA + MathF.Log(lA) : float.PositiveInfinity;
            if (rowB < t) lse[(long)bh * t + rowB] = lB > 0f ? p.Scale * mB + MathF.Log(lB) : float.PositiveInfinity;
        }
    }




    /// <summary>
    /// S (16 x 64) += Q[:, kd .. kd + 16) K[:, kd .. kd + 16)^T: the warp's Q fragment by ldmatrix.x4 at
    /// <paramref name="qFrag"/> + kd, then four K fragment pairs, 16 keys apart, at <paramref name="kFrag"/> + kd.
    /// </summary>
    private static void QkStep<TMma>(TMma mma, ref FragC8 s, ArrayView<ushort> smem, uint sbase, int qFrag, int kFrag, int kd, int pitch,
        ArrayView<uint> scratch)
        where TMma : struct, IMma
    {
        FragA a = mma.LdMatrixX4(smem, sbase, qFrag + kd, scratch, false);
        MmaPair(mma, ref s.F0, ref s.F1, a, smem, sbase, kFrag + kd, scratch, trans: false);
        MmaPair(mma, ref s.F2, ref s.F3, a, smem, sbase, kFrag + 16 * pitch + kd, scratch, trans: false);
        MmaPair(mma, ref s.F4, ref s.F5, a, smem, sbase, kFrag + 32 * pitch + kd, scratch, trans: false);
        MmaPair(mma, ref s.F6, ref s.F7, a, smem, sbase, kFrag + 48 * pitch + kd, scratch, trans: false);
    }

    /// <summary>log2(e): exp(x) = exp2(x log2 e).</summary>
    private const float Log2E = 1.44269504088896341f;

    /// <summary>S, or -inf where key <paramref name="col"/> (+1) is not visible to row A / B.</summary>
    private static void Mask(ref FragC f, int col, int rowA, int rowB, AttentionArgs p, ArrayView<float> keep, long keepRow)
    {
        bool v0 = Visible(col, p, keep, keepRow), v1 = Visible(col + 1, p, keep, keepRow);
        bool causal = p.Causal != 0;
        f.C0 = v0 && (!causal || col <= rowA) ? f.C0 : float.NegativeInfinity;
        f.C1 = v1 && (!causal || col + 1 <= rowA) ? f.C1 : float.NegativeInfinity;
        f.C2 = v0 && (!causal || col <= rowB) ? f.C2 : float.NegativeInfinity;
        f.C3 = v1 && (!causal || col + 1 <= rowB) ? f.C3 : float.NegativeInfinity;
    }

    private static bool Visible(int col, AttentionArgs p, ArrayView<float> keep, long keepRow) =>
        col < p.T && (p.HasMask == 0 || keep[keepRow + col] != 0f);

    /// <summary>exp2(S c - base) per row (0 for -inf): one FMA and one ex2 per score, adding the lane's share of each row sum.</summary>
    private static void Exp2(ref FragC f, float c, float baseA, float baseB, ref float sumA, ref float sumB)
    {
        f.C0 = XMath.Exp2(f.C0 * c - baseA);
        f.C1 = XMath.Exp2(f.C1 * c - baseA);
        f.C2 = XMath.Exp2(f.C2 * c - baseB);
        f.C3 = XMath.Exp2(f.C3 * c - baseB);
        sumA += f.C0 + f.C1;
        sumB += f.C2 + f.C3;
    }

    private static float RowMaxA(FragC8 s) =>
        XMax(XMax(XMax(Max2A(s.F0), Max2A(s.F1)), XMax(Max2A(s.F2), Max2A(s.F3))), XMax(XMax(Max2A(s.F4), Max2A(s.F5)), XMax(Max2A(s.F6), Max2A(s.F7))));

    private static float RowMaxB(FragC8 s) =>
        XMax(XMax(XMax(Max2B(s.F0), Max2B(s.F1)), XMax(Max2B(s.F2), Max2B(s.F3))), XMax(XMax(Max2B(s.F4), Max2B(s.F5)), XMax(Max2B(s.F6), Max2B(s.F7))));

    private static float Max2A(FragC f) => XMax(f.C0, f.C1);

    private static float Max2B(FragC f) => XMax(f.C2, f.C3);

    private static float QuadMax(float x)
    {
        x = XMax(x, Warp.ShuffleXor(x, 1));
        return XMax(x, Warp.ShuffleXor(x, 2));
    }

    private static float QuadSum(float x)
    {
        x += Warp.ShuffleXor(x, 1);
        return x + Warp.ShuffleXor(x, 2);
    }

    private static void Rescale(ref FragC8 o, float a, float b)
    {
        Rescale(ref o.F0, a, b);
        Rescale(ref o.F1, a, b);
        Rescale(ref o.F2, a, b);
        Rescale(ref o.F3, a, b);
        Rescale(ref o.F4, a, b);
        Rescale(ref o.F5, a, b);
        Rescale(ref o.F6, a, b);
        Rescale(ref o.F7, a, b);
    }

    private static void Rescale(ref FragC f, float a, float b)
    {
        f.C0 *= a;
        f.C1 *= a;
        f.C2 *= b;
        f.C3 *= b;
    }

    /// <summary>Rows A and B of a 16 x 64 O tile, columns col0 + 8j (+1), divided by the row sums; rows past T are dropped.</summary>
    private static void Store(OutRows dst, FragC8 f, int rowA, int rowB, int t, int col0, float invA, float invB)
    {
        StoreFragment(dst, f.F0, rowA, rowB, t, col0 + 0, invA, invB);
        StoreFragment(dst, f.F1, rowA, rowB, t, col0 + 8, invA, invB);
        StoreFragment(dst, f.F2, rowA, rowB, t, col0 + 16, invA, invB);
        StoreFragment(dst, f.F3, rowA, rowB, t, col0 + 24, invA, invB);
        StoreFragment(dst, f.F4, rowA, rowB, t, col0 + 32, invA, invB);
        StoreFragment(dst, f.F5, rowA, rowB, t, col0 + 40, invA, invB);
        StoreFragment(dst, f.F6, rowA, rowB, t, col0 + 48, invA, invB);
        StoreFragment(dst, f.F7, rowA, rowB, t, col0 + 56, invA, invB);
    }

    private static void StoreFragment(OutRows dst, FragC f, int rowA, int rowB, int t, int col, float invA, float invB)
    {
        if (rowA < t) dst.StorePair(rowA, col, f.C0 * invA, f.C1 * invA);
        if (rowB < t) dst.StorePair(rowB, col, f.C2 * invB, f.C3 * invB);
    }

    private static float XMax(float a, float b) => a > b ? a : b;

    private static int XMin(int a, int b) => a < b ? a : b;
}
