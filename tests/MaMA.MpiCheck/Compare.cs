namespace MaMA.MpiCheck;

/// <summary>Relative error ||a - b|| / ||b|| (0 when both are zero) and seeded inputs.</summary>
internal static class Compare
{
    public static double RelativeError(float[] a, float[] b)
    {
        if (a.Length != b.Length) return double.PositiveInfinity;
        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
            norm += (double)b[i] * b[i];
        }
        return norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
    }

    public static double Norm(float[] a) => Math.Sqrt(a.Sum(v => (double)v * v));

    public static float[] Uniform(int count, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return v;
    }
}
