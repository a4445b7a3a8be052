using MaMA.Interop.Torch.Parity;
using MaMA.Kernels.Linear;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// <see cref="Sgemm"/>'s blocked path (over <see cref="SgemmSmall.MaxWork"/> multiply-adds) against a
/// double-precision product: ragged rows, column panels and depth blocks; few rows (column blocks
/// only), few columns (rows split into groups), a packed A over the row-chunk limit (two row chunks);
/// row-major, transposed and non-unit-strided A and B; alpha and beta 0, 1 and other; a padded C
/// whose padding must stay untouched; bitwise-repeatable results.
/// </summary>
public sealed class SgemmBlockedTests
{
    private static readonly object[] Cases =
    [
        new object[] { 601, 1000, 300 },  // ragged rows, panels and depth (300 = 256 + 44)
        new object[] { 37, 4000, 1000 },  // few rows: column blocks only
        new object[] { 2000, 40, 1800 },  // two column panels: rows split into groups
        new object[] { 4100, 17, 2100 },  // packed A over 32 MiB: two row chunks
    ];

    private enum Layout { RowMajor, Transposed, Strided }

    [TestCaseSource(nameof(Cases))]
    public unsafe void MatchesTheDoubleProductForEveryLayout(int m, int n, int k)
    {
        var rng = new Random(m * 7919 + n * 31 + k);
        float[] aLogical = Random(rng, m * k), bLogical = Random(rng, k * n);
        const int pad = 3;
        long ldc = n + pad;
        float[] c0 = Random(rng, (int)(m * ldc));
        var product = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
            {
                double av = aLogical[i * k + p];
                for (int j = 0; j < n; j++) product[i * n + j] += av * bLogical[p * n + j];
            }
        foreach (Layout la in new[] { Layout.RowMajor, Layout.Transposed, Layout.Strided })
            foreach (Layout lb in new[] { Layout.RowMajor, Layout.Transposed, Layout.Strided })
            {
                (float[] a, long aRow, long aCol) = Store(aLogical, m, k, la);
                (float[] b, long bRow, long bCol) = Store(bLogical, k, n, lb);
                foreach ((float alpha, float beta) in new[] { (1f, 0f), (1f, 1f), (0.5f, -2f) })
                {
                    float[] c = (float[])c0.Clone();
                    fixed (float* pa = a, pb = b, pc = c) Sgemm.Run(m, n, k, pa, aRow, aCol, pb, bRow, bCol, pc, ldc, alpha, beta);
                    var got = new float[m * n];
                    var expected = new float[m * n];
                    for (int i = 0; i < m; i++)
                    {
                        for (int j = 0; j < n; j++)
                        {
                            got[i * n + j] = c[i * ldc + j];
                            expected[i * n + j] = (float)(alpha * product[i * n + j] + (beta == 0f ? 0 : beta * (double)c0[i * ldc + j]));
                        }
                        for (int j = n; j < ldc; j++)
                            Assert.That(c[i * ldc + j], Is.EqualTo(c0[i * ldc + j]), $"C's padding at row {i} was written");
                    }
                    double error = OpResult.RelativeError(got, expected);
                    Assert.That(error, Is.LessThanOrEqualTo(1e-6), $"m {m} n {n} k {k} A {la} B {lb} alpha {alpha} beta {beta}");
                }
            }
    }

    [Test]
    public unsafe void LoraShapeIsBitwiseRepeatable()
    {
        // The LoRA benchmark's backward shape, scaled down in m: dx += dy W^T with W^T read transposed.
        const int m = 72, n = 640, k = 3072;
        var rng = new Random(5);
        float[] a = Random(rng, m * k), w = Random(rng, n * k), c0 = Random(rng, m * n);
        float[] first = (float[])c0.Clone(), second = (float[])c0.Clone();
        fixed (float* pa = a, pw = w, p1 = first, p2 = second)
        {
            Sgemm.Run(m, n, k, pa, k, 1, pw, 1, k, p1, n, 1f, 1f);
            Sgemm.Run(m, n, k, pa, k, 1, pw, 1, k, p2, n, 1f, 1f);
        }
        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public unsafe void BetaZeroIgnoresNaNGarbageInC()
    {
        const int m = 300, n = 700, k = 700;
        var rng = new Random(2);
        float[] a = Random(rng, m * k), b = Random(rng, k * n);
        float[] c = Enumerable.Repeat(float.NaN, m * n).ToArray();
        fixed (float* pa = a, pb = b, pc = c) Sgemm.Run(m, n, k, pa, k, 1, pb, n, 1, pc, n);
        Assert.That(c.All(float.IsFinite), "C was read although beta is 0");
    }

    /// <summary>The logical rows x cols matrix stored row-major, transposed, or every other element of a transposed buffer twice its size.</summary>
    private static (float[] Data, long Row, long Col) Store(float[] logical, int rows, int cols, Layout layout)
    {
        switch (layout)
        {
            case Layout.RowMajor:
                return (logical, cols, 1);
            case Layout.Transposed:
            {
                var t = new float[rows * cols];
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++) t[j * rows + i] = logical[i * cols + j];
                return (t, 1, rows);
            }
            default:
            {
                var s = new float[2 * rows * cols];
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++) s[2 * i + 2L * rows * j] = logical[i * cols + j];
                return (s, 2, 2L * rows);
            }
        }
    }

    private static float[] Random(Random rng, int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
