namespace MaMA.Data.Tests.Synthetic;

/// <summary>Label-free measurements on written phantoms (what a model could see).</summary>
internal static class PixelMeasures
{
    /// <summary>Pixels brighter than this are background-free breast; the generator's background is ~0-8.</summary>
    public const int BreastThreshold = 20;

    /// <summary>Fibroglandular tissue renders ~150-210, fat ~55-100: the midpoint separates them.</summary>
    public const int DenseThreshold = 128;

    /// <summary>Fraction of breast pixels brighter than <see cref="DenseThreshold"/>.</summary>
    public static double BrightFraction(byte[] px)
    {
        int breast = 0, bright = 0;
        foreach (byte b in px)
        {
            if (b <= BreastThreshold) continue;
            breast++;
            if (b > DenseThreshold) bright++;
        }
        return breast == 0 ? 0 : (double)bright / breast;
    }

    /// <summary>
    /// The brightest local mean inside the breast: the maximum over positions of the mean of a
    /// (2 <paramref name="half"/> + 1)^2 box that lies wholly in the breast.
    /// </summary>
    public static double MaxLocalMean(byte[] px, int w, int h, int half = 3)
    {
        double best = 0;
        for (int y = half; y < h - half; y++)
            for (int x = half; x < w - half; x++)
            {
                int total = 0;
                bool inside = true;
                for (int dy = -half; dy <= half && inside; dy++)
                    for (int dx = -half; dx <= half; dx++)
                    {
                        int v = px[(y + dy) * w + x + dx];
                        if (v <= BreastThreshold) { inside = false; break; }
                        total += v;
                    }
                if (inside) best = Math.Max(best, total / (double)((2 * half + 1) * (2 * half + 1)));
            }
        return best;
    }

    /// <summary>Fraction of breast pixels brighter than <paramref name="level"/>.</summary>
    public static double FractionAbove(byte[] px, int level)
    {
        int breast = 0, above = 0;
        foreach (byte b in px)
        {
            if (b <= BreastThreshold) continue;
            breast++;
            if (b > level) above++;
        }
        return breast == 0 ? 0 : (double)above / breast;
    }

    /// <summary>
    /// Tiny bright specks: pixels that are the maximum of their 3x3 neighbourhood and exceed the upper
    /// quartile of the 24 pixels at Chebyshev distance 3 by at least <paramref name="contrast"/>
    /// (the quartile ignores a neighbouring speck; edges and lines, which fill more of the ring, do not
    /// count). Rings that reach the background are ignored.
    /// </summary>
    public static int SpeckCount(byte[] px, int w, int h, int contrast = 30)
    {
        int count = 0;
        var ring = new int[24];
        for (int y = 3; y < h - 3; y++)
            for (int x = 3; x < w - 3; x++)
            {
                int v = px[y * w + x];
                if (v <= BreastThreshold + contrast) continue;
                bool max = true;
                for (int dy = -1; dy <= 1 && max; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                        if ((dx != 0 || dy != 0) && px[(y + dy) * w + x + dx] > v) { max = false; break; }
                if (!max) continue;
                int k = 0;
                for (int d = -3; d <= 3; d++)
                {
                    ring[k++] = px[(y - 3) * w + x + d];
                    ring[k++] = px[(y + 3) * w + x + d];
                    if (d > -3 && d < 3)
                    {
                        ring[k++] = px[(y + d) * w + x - 3];
                        ring[k++] = px[(y + d) * w + x + 3];
                    }
                }
                Array.Sort(ring);
                if (ring[0] <= BreastThreshold) continue;
                if (v - ring[17] >= contrast) count++;
            }
        return count;
    }
}
