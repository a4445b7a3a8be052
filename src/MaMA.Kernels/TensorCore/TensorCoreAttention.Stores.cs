using ILGPU;

namespace MaMA.Kernels.TensorCore;

/// <summary>What leaves the forward's registers: each row tile's O divided by its row sums, and the log-sum-exp.</summary>
public static partial class TensorCoreAttention
{
    /// <summary>
    /// The end of one row tile: row sums over the quad, O divided by them into <paramref name="dst"/>
    /// (columns 0 .. 63 from <paramref name="lo"/>, 64 .. 127 from <paramref name="hi"/> when
    /// <paramref name="d"/> = 128), and the natural log-sum-exp of the scaled scores, scale m + ln l
    /// (+inf for a row that saw no key).
    /// </summary>
    private static void Finish(OutRows dst, FragC8 lo, FragC8 hi, ArrayView<float> lse, long lseRow, float lA, float lB, float mA, float mB,
        int rowA, int rowB, int t, int d, int colT, int lane, float scale)
    {
        lA = QuadSum(lA);
        lB = QuadSum(lB);
        float invA = lA > 0f ? 1f / lA : 0f, invB = lB > 0f ? 1f / lB : 0f;
        Store(dst, lo, rowA, rowB, t, colT, invA, invB);
        if (d > 64) Store(dst, hi, rowA, rowB, t, 64 + colT, invA, invB);
        if ((lane & 3) == 0)
        {
            if (rowA < t) lse[lseRow + rowA] = lA > 0f ? scale * mA + MathF.Log(lA) : float.PositiveInfinity;
            if (rowB < t) lse[lseRow + rowB] = lB > 0f ? scale * mB + MathF.Log(lB) : float.PositiveInfinity;
        }
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
}
