using ILGPU;

namespace MaMA.Kernels.TensorCore;

/// <summary>What leaves the backward's registers: dS^T into shared memory, dK and dV rows, dq's atomic adds.</summary>
public static partial class TensorCoreAttentionBackward
{
    /// <summary>
    /// A fragment (rows g, g + 8; columns 2t, 2t + 1 and 2t + 8, + 9 of a 16-wide chunk at <paramref name="col0"/>) into the dS^T
    /// tile, a 32-bit word per register: <paramref name="rowA"/> and <paramref name="rowB"/> are even bf16 indices.
    /// </summary>
    private static void StoreA(ArrayView<uint> words, FragA a, int rowA, int rowB, int col0)
    {
        words[(rowA + col0) >> 1] = a.R0;
        words[(rowB + col0) >> 1] = a.R1;
        words[(rowA + col0 + 8) >> 1] = a.R2;
        words[(rowB + col0 + 8) >> 1] = a.R3;
    }

    /// <summary>Rows A and B, columns col0 + 8j (+1), of the tile into <paramref name="dst"/>; rows past T dropped (dk, dv).</summary>
    private static void StoreRows(OutRows dst, FragC8 f, int rowA, int rowB, int t, int col0)
    {
        StorePairs(dst, f.F0, rowA, rowB, t, col0 + 0);
        StorePairs(dst, f.F1, rowA, rowB, t, col0 + 8);
        StorePairs(dst, f.F2, rowA, rowB, t, col0 + 16);
        StorePairs(dst, f.F3, rowA, rowB, t, col0 + 24);
        StorePairs(dst, f.F4, rowA, rowB, t, col0 + 32);
        StorePairs(dst, f.F5, rowA, rowB, t, col0 + 40);
        StorePairs(dst, f.F6, rowA, rowB, t, col0 + 48);
        StorePairs(dst, f.F7, rowA, rowB, t, col0 + 56);
    }

    private static void StorePairs(OutRows dst, FragC f, int rowA, int rowB, int t, int col)
    {
        if (rowA < t) dst.StorePair(rowA, col, f.C0, f.C1);
        if (rowB < t) dst.StorePair(rowB, col, f.C2, f.C3);
    }

    /// <summary>
    /// dq's rows A and B, columns col0 + 8j (+1), of one head's [T, D] += the tile, by fp32 atomics
    /// (every key tile adds to the same rows; <see cref="IMma.AddPair"/>). Rows past T are dropped,
    /// which only a <paramref name="masked"/> tile has.
    /// </summary>
    private static void AddRows<TMma>(TMma mma, QueryLoop c, FragC8 f, int rowA, int rowB, int col0, bool masked)
        where TMma : struct, IMma
    {
        long a = c.Head + (long)rowA * c.D + col0, b = a + 8L * c.D;
        bool inA = !masked || rowA < c.T, inB = !masked || rowB < c.T;
        AddFragment(mma, c, f.F0, a + 0, b + 0, inA, inB);
        AddFragment(mma, c, f.F1, a + 8, b + 8, inA, inB);
        AddFragment(mma, c, f.F2, a + 16, b + 16, inA, inB);
        AddFragment(mma, c, f.F3, a + 24, b + 24, inA, inB);
        AddFragment(mma, c, f.F4, a + 32, b + 32, inA, inB);
        AddFragment(mma, c, f.F5, a + 40, b + 40, inA, inB);
        AddFragment(mma, c, f.F6, a + 48, b + 48, inA, inB);
        AddFragment(mma, c, f.F7, a + 56, b + 56, inA, inB);
    }

    private static void AddFragment<TMma>(TMma mma, QueryLoop c, FragC f, long a, long b, bool inA, bool inB)
        where TMma : struct, IMma
    {
        if (inA) mma.AddPair(c.Dq, a, c.P.DqAddress, f.C0, f.C1);
        if (inB) mma.AddPair(c.Dq, b, c.P.DqAddress, f.C2, f.C3);
    }
}
