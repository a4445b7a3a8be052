using MaMA.Kernels.TensorCore;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>Deterministic bf16 inputs, the fp64 reference of their product and the error measure shared by the tensor-core tests.</summary>
internal static class TensorCoreTestData
{
    /// <summary>n bf16 values in [-scale, scale) from <paramref name="seed"/>.</summary>
    public static ushort[] Bf16Values(int n, int seed, double scale = 1.0)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Bf16.FromFloat((float)((rng.NextDouble() * 2 - 1) * scale))).ToArray();
    }

    public static float[] Floats(int n, int seed, double scale = 1.0)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    /// <summary>||actual - expected|| / ||expected||.</summary>
    public static double RelativeError(float[] actual, double[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        double num = 0, den = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - expected[i];
            num += d * d;
            den += expected[i] * expected[i];
        }
        return Math.Sqrt(num / Math.Max(den, 1e-300));
    }

    /// <summary>
    /// The GEMM of <see cref="GemmArgs"/> in fp64 from the bf16 operands: C[z](m, n) = alpha sum_k A B +
    /// beta C0 + bias[n] + s U[m, :] . L[n, :]. Exact products, so the kernel's fp32 sums should be within ~1e-6.
    /// </summary>
    public static double[] Reference(ushort[] a, ushort[] b, float[] c0, GemmArgs p, float[]? bias = null, float[]? u = null, float[]? l = null)
    {
        var c = new double[c0.Length];
        for (int i = 0; i < c.Length; i++) c[i] = c0[i];
        for (int z = 0; z < p.Batch; z++)
            for (int m = 0; m < p.M; m++)
                for (int n = 0; n < p.N; n++)
                {
                    double sum = 0;
                    for (int k = 0; k < p.K; k++)
                        sum += (double)Bf16.ToFloat(a[z * p.ABatch + m * p.ARow + k * p.ACol]) * Bf16.ToFloat(b[z * p.BBatch + k * p.BRow + n * p.BCol]);
                    long idx = z * p.CBatch + m * p.Ldc + n;
                    double v = p.Alpha * sum + p.Beta * (double)c0[idx];
                    if (p.HasBias != 0) v += bias![n];
                    if (p.LoraRank > 0)
                    {
                        double low = 0;
                        for (int j = 0; j < p.LoraRank; j++) low += (double)u![m * p.LoraRank + j] * l![n * p.LoraRank + j];
                        v += p.LoraScale * low;
                    }
                    c[idx] = v;
                }
        return c;
    }
}
