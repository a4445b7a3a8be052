using ILGPU;
using static MaMA.Kernels.TensorCore.AttentionTiles;

namespace MaMA.Kernels.TensorCore;

/// <summary>The forward's two products on the tensor cores: Q's fragments from global memory, S = Q K^T and O += P V from the shared K and V tiles.</summary>
public static partial class TensorCoreAttention
{
    /// <summary>
    /// This lane's A fragments of the 16 rows of Q with rows <paramref name="rowA"/> (= first + g) and
    /// <paramref name="rowB"/> (= rowA + 8), straight from global memory: for k16 step s, R0 / R1 are
    /// columns 16s + 2t, +1 of rows A / B and R2 / R3 the same 8 columns on (<see cref="MmaLayout"/>).
    /// Rows at or past T read as 0.
    /// </summary>
    private static QFrags LoadQ(ArrayView<ushort> q, long head, int rowA, int rowB, int t, int d, int colT)
    {
        QFrags f;
        f.K0 = QFragment(q, head, rowA, rowB, t, d, colT);
        f.K1 = QFragment(q, head, rowA, rowB, t, d, colT + 16);
        f.K2 = QFragment(q, head, rowA, rowB, t, d, colT + 32);
        f.K3 = QFragment(q, head, rowA, rowB, t, d, colT + 48);
        if (d > 64)
        {
            f.K4 = QFragment(q, head, rowA, rowB, t, d, colT + 64);
            f.K5 = QFragment(q, head, rowA, rowB, t, d, colT + 80);
            f.K6 = QFragment(q, head, rowA, rowB, t, d, colT + 96);
            f.K7 = QFragment(q, head, rowA, rowB, t, d, colT + 112);
        }
        else
        {
            f.K4 = f.K5 = f.K6 = f.K7 = default;
        }
        return f;
    }

    private static FragA QFragment(ArrayView<ushort> q, long head, int rowA, int rowB, int t, int d, int col)
    {
        FragA a;
        a.R0 = QPair(q, head, rowA, t, d, col);
        a.R1 = QPair(q, head, rowB, t, d, col);
        a.R2 = QPair(q, head, rowA, t, d, col + 8);
        a.R3 = QPair(q, head, rowB, t, d, col + 8);
        return a;
    }

    private static uint QPair(ArrayView<ushort> q, long head, int row, int t, int d, int col)
    {
        if (row >= t) return 0u;
        long i = head + (long)row * d + col;
        return Bf16.Pack(q[i], q[i + 1]);
    }

    /// <summary>
    /// S (16 x 64) += Q[:, kd .. kd + 16) K[:, kd .. kd + 16)^T for both row tiles (tile 1 when
    /// <paramref name="two"/>): four K fragment pairs, 16 keys apart, at <paramref name="kFrag"/>
    /// (already offset by kd), each pair by one ldmatrix.x4 feeding every row tile's two mma.
    /// </summary>
    private static void QkStep<TMma>(TMma mma, ref FragC8 s0, ref FragC8 s1, FragA a0, FragA a1, bool two, ArrayView<ushort> smem, uint sbase,
        int kFrag, int pitch, ArrayView<uint> scratch)
        where TMma : struct, IMma
    {
        MmaPairs(mma, ref s0.F0, ref s0.F1, ref s1.F0, ref s1.F1, a0, a1, two, smem, sbase, kFrag, scratch, trans: false);
        MmaPairs(mma, ref s0.F2, ref s0.F3, ref s1.F2, ref s1.F3, a0, a1, two, smem, sbase, kFrag + 16 * pitch, scratch, trans: false);
        MmaPairs(mma, ref s0.F4, ref s0.F5, ref s1.F4, ref s1.F5, a0, a1, two, smem, sbase, kFrag + 32 * pitch, scratch, trans: false);
        MmaPairs(mma, ref s0.F6, ref s0.F7, ref s1.F6, ref s1.F7, a0, a1, two, smem, sbase, kFrag + 48 * pitch, scratch, trans: false);
    }

    /// <summary>
    /// O += P V for one 16-key chunk: each V fragment pair (ldmatrix.x4.trans at <paramref name="element"/>
    /// + 16j) feeds tile 0's mma with <paramref name="a0"/> and, when <paramref name="two"/>, tile 1's
    /// with <paramref name="a1"/>. Columns 64 .. 127 (D = 128, one tile) accumulate in <paramref name="o1"/>.
    /// </summary>
    private static void PvChunk<TMma>(TMma mma, ref FragC8 o0, ref FragC8 o1, ref FragC8 u0, FragA a0, FragA a1, bool two,
        ArrayView<ushort> smem, uint sbase, int element, int d, ArrayView<uint> scratch)
        where TMma : struct, IMma
    {
        MmaPairs(mma, ref o0.F0, ref o0.F1, ref u0.F0, ref u0.F1, a0, a1, two, smem, sbase, element + 0, scratch, trans: true);
        MmaPairs(mma, ref o0.F2, ref o0.F3, ref u0.F2, ref u0.F3, a0, a1, two, smem, sbase, element + 16, scratch, trans: true);
        MmaPairs(mma, ref o0.F4, ref o0.F5, ref u0.F4, ref u0.F5, a0, a1, two, smem, sbase, element + 32, scratch, trans: true);
        MmaPairs(mma, ref o0.F6, ref o0.F7, ref u0.F6, ref u0.F7, a0, a1, two, smem, sbase, element + 48, scratch, trans: true);
        if (d > 64)
        {
            MmaPair(mma, ref o1.F0, ref o1.F1, a0, smem, sbase, element + 64, scratch, trans: true);
            MmaPair(mma, ref o1.F2, ref o1.F3, a0, smem, sbase, element + 80, scratch, trans: true);
            MmaPair(mma, ref o1.F4, ref o1.F5, a0, smem, sbase, element + 96, scratch, trans: true);
            MmaPair(mma, ref o1.F6, ref o1.F7, a0, smem, sbase, element + 112, scratch, trans: true);
        }
    }

    /// <summary>
    /// One ldmatrix.x4 at <paramref name="element"/> as two n8 B fragments, used by row tile 0
    /// (c00 += a0 b0, c01 += a0 b1) and, when <paramref name="two"/>, row tile 1 (c10, c11 with a1).
    /// </summary>
    private static void MmaPairs<TMma>(TMma mma, ref FragC c00, ref FragC c01, ref FragC c10, ref FragC c11, FragA a0, FragA a1, bool two,
        ArrayView<ushort> smem, uint sbase, int element, ArrayView<uint> scratch, bool trans)
        where TMma : struct, IMma
    {
        LoadBPair(mma, smem, sbase, element, scratch, trans, out FragB b0, out FragB b1);
        mma.Bf16(ref c00, a0, b0, scratch);
        mma.Bf16(ref c01, a0, b1, scratch);
        if (two)
        {
            mma.Bf16(ref c10, a1, b0, scratch);
            mma.Bf16(ref c11, a1, b1, scratch);
        }
    }
}
