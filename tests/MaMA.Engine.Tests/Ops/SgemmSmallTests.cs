using MaMA.Interop.Torch.Parity;
using MaMA.Kernels.Linear;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// <see cref="Sgemm"/> against a plain double-precision triple loop, at sizes that take the
/// small-GEMM path (one fork-join, row-major B read in place, ragged panels copied) and the blocked
/// path, with every operand layout the engine uses (row-major, transposed A, transposed B), alpha
/// and beta 0, 1 and other, and shapes that leave ragged row and column edges.
/// </summary>
public sealed class SgemmSmallTests
{
    private static readonly object[] Cases =
    [
        new object[] { 1, 1, 1 },
        new object[] { 7, 33, 5 },
        new object[] { 9, 17, 300 },
        new object[] { 33, 1025, 17 },
        new object[] { 130, 95, 257 },
        new object[] { 288, 288, 512 },
        new object[] { 289, 513, 288 },
        new object[] { 520, 700, 400 }, // over SgemmSmall.MaxWork: the blocked path
    ];

    [TestCaseSource(nameof(Cases))]
    public unsafe void MatchesThePlainProductForEveryLayout(int m, int n, int k)
    {
        var rng = new Random(m * 7919 + n * 31 + k);
        float[] a = Random(rng, m * k), b = Random(rng, k * n), c0 = Random(rng, m * n);
        foreach (bool transA in new[] { false, true })
            foreach (bool transB in new[] { false, true })
                foreach ((float alpha, float beta) in new[] { (1f, 0f), (1f, 1f), (0.5f, -2f) })
                {
                    // a is stored [m, k] or, transposed, [k, m]; b [k, n] or [n, k].
                    long aRow = transA ? 1 : k, aCol = transA ? m : 1;
                    long bRow = transB ? 1 : n, bCol = transB ? k : 1;
                    float[] c = (float[])c0.Clone();
                    fixed (float* pa = a, pb = b, pc = c) Sgemm.Run(m, n, k, pa, aRow, aCol, pb, bRow, bCol, pc, n, alpha, beta);
                    var expected = new float[m * n];
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                        {
                            double s = 0;
                            for (int p = 0; p < k; p++) s += (double)a[i * aRow + p * aCol] * b[p * bRow + j * bCol];
                            expected[i * n + j] = (float)(alpha * s + (beta == 0f ? 0 : beta * (double)c0[i * n + j]));
                        }
                    double error = OpResult.RelativeError(c, expected);
                    Assert.That(error, Is.LessThanOrEqualTo(1e-6), $"m {m} n {n} k {k} transA {transA} transB {transB} alpha {alpha} beta {beta}");
                }
    }

    [Test]
    public unsafe void BetaZeroIgnoresNaNGarbageInC()
    {
        const int m = 19, n = 45, k = 70;
        var rng = new Random(1);
        float[] a = Random(rng, m * k), b = Random(rng, k * n);
        float[] c = Enumerable.Repeat(float.NaN, m * n).ToArray();
        fixed (float* pa = a, pb = b, pc = c) Sgemm.Run(m, n, k, pa, k, 1, pb, n, 1, pc, n);
        Assert.That(c.All(float.IsFinite), "C was read although beta is 0");
    }

    private static float[] Random(Random rng, int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
