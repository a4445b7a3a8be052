using ILGPU;
using MaMA.Kernels.Random;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// The backward's arithmetic on one fragment of transposed scores (keys A, B as rows, two query
/// columns): P^T from lse, dS^T from dP^T and delta, and the same with the forward's dropout.
/// </summary>
public static partial class TensorCoreAttentionBackward
{
    /// <summary>
    /// S^T -> P^T in place for queries <paramref name="col"/>, +1 (columns) and keys A, B (rows):
    /// exp(scale s - lse[query]) (<see cref="IMma.Exp"/>) where the key is visible to the query, else 0
    /// (also for queries past T). Unless <paramref name="masked"/>, every pair is visible (a full tile: QueryStep).
    /// </summary>
    private static void Probabilities<TMma>(TMma mma, ref FragC f, QueryLoop c, int col, bool masked)
        where TMma : struct, IMma
    {
        float scale = c.Scale;
        if (!masked)
        {
            float m0 = c.Lse[c.RowBase + col], m1 = c.Lse[c.RowBase + col + 1];
            f.C0 = mma.Exp(f.C0 * scale - m0);
            f.C1 = mma.Exp(f.C1 * scale - m1);
            f.C2 = mma.Exp(f.C2 * scale - m0);
            f.C3 = mma.Exp(f.C3 * scale - m1);
            return;
        }
        int t = c.T, keyA = c.KeyA, keyB = c.KeyB;
        bool causal = c.Causal, visA = c.VisA, visB = c.VisB;
        bool in0 = col < t, in1 = col + 1 < t;
        float l0 = in0 ? c.Lse[c.RowBase + col] : 0f, l1 = in1 ? c.Lse[c.RowBase + col + 1] : 0f;
        f.C0 = in0 && visA && (!causal || keyA <= col) ? mma.Exp(f.C0 * scale - l0) : 0f;
        f.C1 = in1 && visA && (!causal || keyA <= col + 1) ? mma.Exp(f.C1 * scale - l1) : 0f;
        f.C2 = in0 && visB && (!causal || keyB <= col) ? mma.Exp(f.C2 * scale - l0) : 0f;
        f.C3 = in1 && visB && (!causal || keyB <= col + 1) ? mma.Exp(f.C3 * scale - l1) : 0f;
    }

    /// <summary>delta of queries <paramref name="col"/> and +1; 0 past T (only a masked tile reaches past T).</summary>
    private static void Deltas(QueryLoop c, int col, bool masked, out float e0, out float e1)
    {
        if (!masked)
        {
            e0 = c.Delta[c.RowBase + col];
            e1 = c.Delta[c.RowBase + col + 1];
            return;
        }
        e0 = col < c.T ? c.Delta[c.RowBase + col] : 0f;
        e1 = col + 1 < c.T ? c.Delta[c.RowBase + col + 1] : 0f;
    }

    /// <summary>dP^T -> dS^T in place: P (dP - delta[query]) scale (0 wherever P is 0).</summary>
    private static void ScoreGradient(ref FragC dp, FragC pr, QueryLoop c, int col, bool masked)
    {
        Deltas(c, col, masked, out float e0, out float e1);
        float scale = c.Scale;
        dp.C0 = pr.C0 * (dp.C0 - e0) * scale;
        dp.C1 = pr.C1 * (dp.C1 - e1) * scale;
        dp.C2 = pr.C2 * (dp.C2 - e0) * scale;
        dp.C3 = pr.C3 * (dp.C3 - e1) * scale;
    }

    /// <summary>
    /// With dropout, one fragment of keys A, B (rows) and queries <paramref name="col"/>, +1 (columns):
    /// dP^T -> dS^T = P^T (dP^T z - delta[query]) scale, then P^T -> P^T z. Element (key, query) is
    /// <paramref name="e"/> (key A, query col) + (query - col) T + (key - key A); the four lie in four
    /// Philox blocks. With shared blocks (warp-uniform; rows start blocks): the lanes of groups
    /// g8 = 4m + r (r = the lane's quad, same lane &amp; 3) need word r of the same four blocks,
    /// (query col + (s &amp; 1), keys of row A or B by s &gt;&gt; 1) for s = 0 .. 3; lane r draws
    /// block s = r (its first element <paramref name="own"/>) and three shuffles (lane xor 4, 8, 12)
    /// bring the others' keep bits. Otherwise each lane draws its four blocks.
    /// </summary>
    private static void DropGradient(ref FragC dp, ref FragC pr, QueryLoop c, long e, long own, int col, bool masked)
    {
        Deltas(c, col, masked, out float e0, out float e1);
        DropoutMask m = c.P.Dropout;
        float scale = c.Scale;
        int t = c.T, quad = c.Quad;
        float z0, z1, z2, z3;
        if (c.SharedBlocks)
        {
            int mine = m.KeepsBlock(own);
            int x1 = Warp.ShuffleXor(mine, 4), x2 = Warp.ShuffleXor(mine, 8), x3 = Warp.ShuffleXor(mine, 12);
            z0 = (BlockBits(0, quad, mine, x1, x2, x3) >> quad & 1) != 0 ? m.Scale : 0f;
            z1 = (BlockBits(1, quad, mine, x1, x2, x3) >> quad & 1) != 0 ? m.Scale : 0f;
            z2 = (BlockBits(2, quad, mine, x1, x2, x3) >> quad & 1) != 0 ? m.Scale : 0f;
            z3 = (BlockBits(3, quad, mine, x1, x2, x3) >> quad & 1) != 0 ? m.Scale : 0f;
        }
        else
        {
            z0 = m.Keeps(e) ? m.Scale : 0f;
            z1 = m.Keeps(e + t) ? m.Scale : 0f;
            z2 = m.Keeps(e + 8) ? m.Scale : 0f;
            z3 = m.Keeps(e + t + 8) ? m.Scale : 0f;
        }
        dp.C0 = pr.C0 * (dp.C0 * z0 - e0) * scale;
        dp.C1 = pr.C1 * (dp.C1 * z1 - e1) * scale;
        dp.C2 = pr.C2 * (dp.C2 * z2 - e0) * scale;
        dp.C3 = pr.C3 * (dp.C3 * z3 - e1) * scale;
        pr.C0 *= z0;
        pr.C1 *= z1;
        pr.C2 *= z2;
        pr.C3 *= z3;
    }

    /// <summary>The keep bits of block <paramref name="s"/> at lane quad r = <paramref name="quad"/>: its own (s = r), else those the lane 4 (s xor r) away drew.</summary>
    private static int BlockBits(int s, int quad, int mine, int x1, int x2, int x3)
    {
        int x = s ^ quad;
        return x == 0 ? mine : x == 1 ? x1 : x == 2 ? x2 : x3;
    }
}
