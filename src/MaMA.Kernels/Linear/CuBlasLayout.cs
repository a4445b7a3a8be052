namespace MaMA.Kernels.Linear;

/// <summary>
/// One cuBLAS (column-major) GEMM call that computes the engine's row-major
/// C [m, n] (leading dimension ldc) = A [m, k] B [k, n] with element strides.
///
/// cuBLAS sees C as the column-major matrix C^T [n, m] with the same ldc. C^T = B^T A^T, so the
/// call is gemm(opB, opA, n, m, k, B, ldb, A, lda, C, ldc):
/// - B^T [n, k] has element (j, kk) at j bCol + kk bRow. With bCol = 1 it is column-major with
///   ld = bRow (op N); with bRow = 1 it is the transpose of the column-major [k, n] with ld = bCol (op T).
/// - A^T [k, m] has element (kk, i) at kk aCol + i aRow. With aCol = 1 it is column-major with
///   ld = aRow (op N); with aRow = 1 it is the transpose of the column-major [m, k] with ld = aCol (op T).
/// A stride along an axis of size 1 is never used, so it is chosen to make the layout valid.
/// Operands with no unit stride have no such call (<see cref="TryMap"/> returns null).
/// </summary>
public readonly record struct CuBlasLayout(bool TransposeFirst, bool TransposeSecond, int Rows, int Cols, int Inner, int LdFirst, int LdSecond, int Ldc)
{
    /// <summary>The call for C = A B (row-major view above), or null when an operand has no unit stride or a size overflows int.</summary>
    public static CuBlasLayout? TryMap(int m, int n, int k, long aRow, long aCol, long bRow, long bCol, long ldc)
    {
        if (m <= 0 || n <= 0 || k <= 0 || ldc < n || ldc > int.MaxValue) return null;
        // B^T [n, k]: first operand of the cuBLAS call.
        if (!TryOperand(rows: n, cols: k, rowStride: bCol, colStride: bRow, out bool transB, out int ldb)) return null;
        // A^T [k, m]: second operand.
        if (!TryOperand(rows: k, cols: m, rowStride: aCol, colStride: aRow, out bool transA, out int lda)) return null;
        return new CuBlasLayout(transB, transA, n, m, k, ldb, lda, (int)ldc);
    }

    /// <summary>
    /// X [rows, cols] with element (r, c) at r rowStride + c colStride, as cuBLAS takes it: column-major
    /// with ld (op N: rowStride 1, ld = colStride >= rows) or the transpose of a column-major [cols, rows]
    /// (op T: colStride 1, ld = rowStride >= cols).
    /// </summary>
    private static bool TryOperand(int rows, int cols, long rowStride, long colStride, out bool transpose, out int ld)
    {
        if (rows == 1) rowStride = cols == 1 ? 1 : (colStride == 1 ? Math.Max(1, cols) : 1);
        if (cols == 1) colStride = rowStride == 1 ? Math.Max(1, rows) : 1;
        transpose = false;
        ld = 0;
        if (rowStride == 1 && colStride >= Math.Max(1, rows) && colStride <= int.MaxValue)
        {
            ld = (int)colStride;
            return true;
        }
        if (colStride == 1 && rowStride >= Math.Max(1, cols) && rowStride <= int.MaxValue)
        {
            transpose = true;
            ld = (int)rowStride;
            return true;
        }
        return false;
    }
}
