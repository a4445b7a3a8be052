using MaMA.Kernels.Linear;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// The row-major-to-cuBLAS mapping, checked without a GPU: a column-major GEMM written from cuBLAS's
/// documented semantics (op(X) = X or X^T, element (r, c) of a column-major matrix at r + c ld)
/// runs the mapped call on the same memory, and its result must equal the row-major product for
/// every stride pattern the engine produces (row-major, transposed, padded leading dimensions,
/// axes of size 1) and be refused for operands with no unit stride.
/// </summary>
[TestFixture]
public sealed class CuBlasLayoutTests
{
    public static IEnumerable<TestCaseData> Layouts()
    {
        foreach (var (m, n, k) in new[] { (5, 7, 3), (1, 7, 3), (5, 1, 3), (5, 7, 1), (1, 1, 1), (4, 4, 4) })
        foreach (bool aTransposed in new[] { false, true })
        foreach (bool bTransposed in new[] { false, true })
        foreach (int pad in new[] { 0, 3 })
            yield return new TestCaseData(m, n, k, aTransposed, bTransposed, pad)
                .SetName($"Mapped_{m}x{n}x{k}_{(aTransposed ? "At" : "A")}{(bTransposed ? "Bt" : "B")}_pad{pad}");
    }

    [TestCaseSource(nameof(Layouts))]
    public void MappedCall_ComputesTheRowMajorProduct(int m, int n, int k, bool aTransposed, bool bTransposed, int pad)
    {
        var rng = new Random(m * 100 + n * 10 + k + pad);
        // A [m, k]: stored row-major [m, k + pad] or, transposed, as [k, m + pad]; B likewise.
        long aRow = aTransposed ? 1 : k + pad, aCol = aTransposed ? m + pad : 1;
        long bRow = bTransposed ? 1 : n + pad, bCol = bTransposed ? k + pad : 1;
        float[] a = Fill(rng, (aTransposed ? k * (m + pad) : m * (k + pad)));
        float[] b = Fill(rng, (bTransposed ? n * (k + pad) : k * (n + pad)));
        int ldc = n + pad;
        float[] c = Fill(rng, m * ldc);
        float[] expected = (float[])c.Clone();
        const float alpha = 1.5f, beta = 0.5f;
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int kk = 0; kk < k; kk++) sum += (double)a[i * aRow + kk * aCol] * b[kk * bRow + j * bCol];
            expected[i * ldc + j] = (float)(alpha * sum + beta * c[i * ldc + j]);
        }

        CuBlasLayout? layout = CuBlasLayout.TryMap(m, n, k, aRow, aCol, bRow, bCol, ldc);

        Assert.That(layout, Is.Not.Null);
        ColumnMajorGemm(layout!.Value, alpha, b, a, beta, c);
        Assert.That(c, Is.EqualTo(expected).Within(1e-5f));
    }

    [Test]
    public void OperandsWithoutUnitStride_AreRefused()
    {
        // A with strides (2, 3): every other element of a larger buffer in both directions.
        Assert.That(CuBlasLayout.TryMap(4, 5, 6, aRow: 2, aCol: 3, bRow: 5, bCol: 1, ldc: 5), Is.Null);
        Assert.That(CuBlasLayout.TryMap(4, 5, 6, aRow: 6, aCol: 1, bRow: 10, bCol: 2, ldc: 5), Is.Null);
        // overlapping rows (leading dimension below the row length) and ldc < n
        Assert.That(CuBlasLayout.TryMap(4, 5, 6, aRow: 3, aCol: 1, bRow: 5, bCol: 1, ldc: 5), Is.Null);
        Assert.That(CuBlasLayout.TryMap(4, 5, 6, aRow: 6, aCol: 1, bRow: 5, bCol: 1, ldc: 4), Is.Null);
        // empty products are the caller's to handle
        Assert.That(CuBlasLayout.TryMap(0, 5, 6, 6, 1, 5, 1, 5), Is.Null);
    }

    [Test]
    public void EngineMatMulLayouts_Map()
    {
        // The LoRA c_attn product x [576, 2560] @ W [2560, 7680] (Conv1D) and its backward dy @ W^T.
        Assert.That(CuBlasLayout.TryMap(576, 7680, 2560, 2560, 1, 7680, 1, 7680),
            Is.EqualTo(new CuBlasLayout(false, false, 7680, 576, 2560, 7680, 2560, 7680)));
        Assert.That(CuBlasLayout.TryMap(576, 2560, 7680, 7680, 1, 1, 7680, 2560),
            Is.EqualTo(new CuBlasLayout(true, false, 2560, 576, 7680, 7680, 7680, 2560)));
    }

    /// <summary>cuBLAS gemm, column-major: C = alpha op(X) op(Y) + beta C with X the first operand (here B^T's storage) and Y the second.</summary>
    private static void ColumnMajorGemm(CuBlasLayout l, float alpha, float[] first, float[] second, float beta, float[] c)
    {
        for (int r = 0; r < l.Rows; r++)
        for (int col = 0; col < l.Cols; col++)
        {
            double sum = 0;
            for (int p = 0; p < l.Inner; p++)
            {
                // op(X)(r, p): X is [Rows, Inner] (op N) or its storage is [Inner, Rows] (op T)
                float x = l.TransposeFirst ? first[p + r * l.LdFirst] : first[r + p * l.LdFirst];
                float y = l.TransposeSecond ? second[col + p * l.LdSecond] : second[p + col * l.LdSecond];
                sum += (double)x * y;
            }
            c[r + col * l.Ldc] = (float)(alpha * sum + beta * c[r + col * l.Ldc]);
        }
    }

    private static float[] Fill(Random rng, int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
