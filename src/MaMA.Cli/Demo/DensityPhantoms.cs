namespace MaMA.Cli.Demo;

/// <summary>
/// Built-in synthetic mammography phantoms for the demo: a breast silhouette (half ellipse against
/// the chest wall, left or right side) over a dark background, filled with fatty tissue and bright
/// fibroglandular blobs whose coverage follows the four BI-RADS density classes
/// (0 almost entirely fat ... 3 extremely dense), plus quantum-like noise. Fully determined by the seed.
/// </summary>
internal static class DensityPhantoms
{
    public const int Classes = 4;

    /// <summary>Fraction of the breast covered by dense tissue per class (roughly the BI-RADS bands).</summary>
    private static readonly (double Low, double High)[] Coverage = [(0.00, 0.20), (0.25, 0.45), (0.50, 0.72), (0.78, 0.95)];

    /// <summary>Images [count, size*size] in [-1, 1] (normalised with mean 0.5, std 0.5) and labels.</summary>
    public static (float[] Pixels, long[] Labels) Generate(int count, int size, int seed)
    {
        var rng = new Random(seed);
        var pixels = new float[count * size * size];
        var labels = new long[count];
        for (int n = 0; n < count; n++)
        {
            int label = rng.Next(Classes);
            labels[n] = label;
            Draw(pixels.AsSpan(n * size * size, size * size), size, label, rng);
        }
        return (pixels, labels);
    }

    private static void Draw(Span<float> img, int size, int label, Random rng)
    {
        bool left = rng.Next(2) == 0;
        double radiusX = size * (0.70 + 0.2 * rng.NextDouble());
        double radiusY = size * (0.38 + 0.1 * rng.NextDouble());
        double centerY = size * (0.5 + 0.06 * (rng.NextDouble() - 0.5));
        double target = Coverage[label].Low + (Coverage[label].High - Coverage[label].Low) * rng.NextDouble();

        // Dense tissue as a sum of Gaussian blobs, thresholded so its area matches the class coverage.
        int blobs = 6 + rng.Next(6);
        var field = new double[size * size];
        for (int b = 0; b < blobs; b++)
        {
            double bx = size * ((left ? 0.1 : 0.4) + 0.5 * rng.NextDouble());
            double by = centerY + (rng.NextDouble() - 0.5) * radiusY * 1.6;
            double s = size * (0.08 + 0.12 * rng.NextDouble());
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    double dx = x - bx, dy = y - by;
                    field[y * size + x] += Math.Exp(-(dx * dx + dy * dy) / (2 * s * s));
                }
        }
        var inside = new List<double>();
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                if (InBreast(x, y)) inside.Add(field[y * size + x]);
        inside.Sort();
        double threshold = inside.Count == 0 ? double.MaxValue : inside[Math.Clamp((int)((1 - target) * inside.Count), 0, inside.Count - 1)];

        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double v = 0.02;
                if (InBreast(x, y))
                {
                    v = 0.35 + 0.05 * rng.NextDouble();
                    if (target > 0.02 && field[y * size + x] >= threshold) v = 0.75 + 0.1 * rng.NextDouble();
                }
                v += 0.03 * (rng.NextDouble() - 0.5);
                img[y * size + x] = (float)((Math.Clamp(v, 0, 1) - 0.5) / 0.5);
            }

        bool InBreast(int x, int y)
        {
            double dx = (left ? x : size - 1 - x) / radiusX;
            double dy = (y - centerY) / radiusY;
            return dx * dx + dy * dy <= 1;
        }
    }
}
