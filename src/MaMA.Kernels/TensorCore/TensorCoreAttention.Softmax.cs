using ILGPU;
using MaMA.Kernels.Random;
using static MaMA.Kernels.TensorCore.AttentionTiles;

namespace MaMA.Kernels.TensorCore;

/// <summary>The forward's online softmax on one row tile's scores in registers: masking, running maxima and sums, the exponentials, dropout on P and the rescaling of O.</summary>
public static partial class TensorCoreAttention
{
    /// <summary>
    /// -inf on the scores of one row tile (rows <paramref name="first"/> .. + 15) that some key of the
    /// tile at <paramref name="kv0"/> may not be visible to; a tile without a padding mask, all keys
    /// below T, and when causal all at or before the tile's first row, is left as it is. (A tile the
    /// padding mask leaves whole runs in the full loop and never gets here.)
    /// </summary>
    private static void MaskTile(ref FragC8 s, int kv0, int colT, int first, int rowA, int rowB, AttentionArgs p, ArrayView<float> keep, long keepRow)
    {
        bool full = p.HasMask == 0 && kv0 + BlockKV <= p.T && (p.Causal == 0 || kv0 + BlockKV - 1 <= first);
        if (full) return;
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

    /// <summary>
    /// The online softmax step of one row tile: the quad (4 lanes) holds each row's 64 scores; the
    /// new row maxima, the factors <paramref name="corrA"/> / <paramref name="corrB"/> that rescale
    /// what was accumulated, P = exp2(S c - m c) in place, and the lane-partial row sums (summed over
    /// the quad once at the end). A row with no visible key so far keeps base 0 (its terms are exp2(-inf) = 0).
    /// </summary>
    private static void Softmax<TMma>(TMma mma, ref FragC8 s, ref float mA, ref float mB, ref float lA, ref float lB, float c2, out float corrA, out float corrB)
        where TMma : struct, IMma
    {
        float newA = XMax(mA, QuadMax(RowMaxA(s))), newB = XMax(mB, QuadMax(RowMaxB(s)));
        float baseA = newA == float.NegativeInfinity ? 0f : newA * c2, baseB = newB == float.NegativeInfinity ? 0f : newB * c2;
        corrA = mma.Exp2(mA * c2 - baseA);
        corrB = mma.Exp2(mB * c2 - baseB);
        mA = newA;
        mB = newB;
        float sumA = 0f, sumB = 0f;
        Exp2(mma, ref s.F0, c2, baseA, baseB, ref sumA, ref sumB);
        Exp2(mma, ref s.F1, c2, baseA, baseB, ref sumA, ref sumB);
        Exp2(mma, ref s.F2, c2, baseA, baseB, ref sumA, ref sumB);
        Exp2(mma, ref s.F3, c2, baseA, baseB, ref sumA, ref sumB);
        Exp2(mma, ref s.F4, c2, baseA, baseB, ref sumA, ref sumB);
        Exp2(mma, ref s.F5, c2, baseA, baseB, ref sumA, ref sumB);
        Exp2(mma, ref s.F6, c2, baseA, baseB, ref sumA, ref sumB);
        Exp2(mma, ref s.F7, c2, baseA, baseB, ref sumA, ref sumB);
        lA = lA * corrA + sumA;
        lB = lB * corrB + sumB;
    }

    /// <summary>
    /// P of one row tile times its dropout factors: fragment j's elements (row A / B, key c, c + 1)
    /// with c = kv0 + 2t + 8j are elements <paramref name="eA"/> + 8j (+1) and <paramref name="eB"/> + 8j (+1).
    /// </summary>
    private static void DropTile(ref FragC8 s, DropoutMask m, long eA, long eB, bool shared, int lane)
    {
        DropFragment(ref s.F0, m, eA + 0, eB + 0, shared, lane);
        DropFragment(ref s.F1, m, eA + 8, eB + 8, shared, lane);
        DropFragment(ref s.F2, m, eA + 16, eB + 16, shared, lane);
        DropFragment(ref s.F3, m, eA + 24, eB + 24, shared, lane);
        DropFragment(ref s.F4, m, eA + 32, eB + 32, shared, lane);
        DropFragment(ref s.F5, m, eA + 40, eB + 40, shared, lane);
        DropFragment(ref s.F6, m, eA + 48, eB + 48, shared, lane);
        DropFragment(ref s.F7, m, eA + 56, eB + 56, shared, lane);
    }

    /// <summary>
    /// One fragment's factors. <paramref name="shared"/> (warp-uniform; rows start Philox blocks): the
    /// even lane of a pair holds words 0, 1 and the odd lane words 2, 3 of the same two blocks (rows A
    /// and B, keys 4u .. 4u + 3); the even lane draws row A's block, the odd lane row B's, and one
    /// shuffle gives each the other's keep bits. Otherwise each lane draws its own pairs.
    /// </summary>
    private static void DropFragment(ref FragC f, DropoutMask m, long eA, long eB, bool shared, int lane)
    {
        int a, b;
        if (shared)
        {
            bool odd = (lane & 1) != 0;
            int own = m.KeepsBlock(odd ? eB : eA), other = Warp.ShuffleXor(own, 1);
            int shift = odd ? 2 : 0;
            a = ((odd ? other : own) >> shift) & 3;
            b = ((odd ? own : other) >> shift) & 3;
        }
        else
        {
            a = m.KeepsPair(eA);
            b = m.KeepsPair(eB);
        }
        f.C0 = (a & 1) != 0 ? f.C0 * m.Scale : 0f;
        f.C1 = (a & 2) != 0 ? f.C1 * m.Scale : 0f;
        f.C2 = (b & 1) != 0 ? f.C2 * m.Scale : 0f;
        f.C3 = (b & 2) != 0 ? f.C3 * m.Scale : 0f;
    }

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
    private static void Exp2<TMma>(TMma mma, ref FragC f, float c, float baseA, float baseB, ref float sumA, ref float sumB) where TMma : struct, IMma
    {
        f.C0 = mma.Exp2(f.C0 * c - baseA);
        f.C1 = mma.Exp2(f.C1 * c - baseA);
        f.C2 = mma.Exp2(f.C2 * c - baseB);
        f.C3 = mma.Exp2(f.C3 * c - baseB);
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

    /// <summary>
    /// The larger of two scores: one <c>max.f32</c> (<c>FMNMX</c>) on CUDA, where a compare and a
    /// select were two instructions, 72 in each key step at D = 64. Rows are masked with -inf, never
    /// NaN; a NaN score (NaN inputs) makes its row NaN either way through the exponentials.
    /// </summary>
    private static float XMax(float a, float b) => MathF.Max(a, b);
}
