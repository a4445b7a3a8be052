namespace MaMA.Data.Images.Transforms;

/// <summary>
/// Bilinear resizing of 8-bit grey images as Pillow does it, which is what torchvision's
/// <c>Resize</c> and <c>RandomResizedCrop</c> run on the reference's PIL images: a triangle filter
/// whose support widens with the shrink factor (antialiasing: every source pixel under the output
/// pixel contributes), separable, horizontal pass first with its result rounded to 8 bits, weights
/// in 22-bit fixed point, round half up. This is torchvision's default (<c>antialias=True</c>).
/// With <c>antialias: false</c> the support stays one pixel: plain bilinear with half-pixel centres,
/// i.e. <c>F.interpolate(..., mode="bilinear", align_corners=False)</c>, which aliases when shrinking.
/// Enlarging is the same in both modes.
/// </summary>
public static class BilinearResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    public static GreyImage Resize(GreyImage src, int width, int height, bool antialias = true)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (width < 1 || height < 1) throw new ArgumentException($"target size must be positive, got {width}x{height}.");
        if (width == src.Width && height == src.Height) return src.Clone();
        var (xBounds, xWeights, xTaps) = Coefficients(src.Width, width, antialias);
        var (yBounds, yWeights, yTaps) = Coefficients(src.Height, height, antialias);

        // Horizontal pass over the source rows the vertical pass will use.
        int firstRow = yBounds[0];
        int lastRow = yBounds[2 * (height - 1)] + yBounds[2 * (height - 1) + 1];
        GreyImage temp;
        if (width != src.Width)
        {
            temp = new GreyImage(width, lastRow - firstRow);
            for (int y = 0; y < temp.Height; y++)
            {
                ReadOnlySpan<byte> row = src.Row(y + firstRow);
                Span<byte> outRow = temp.Row(y);
                for (int x = 0; x < width; x++)
                {
                    int min = xBounds[2 * x], count = xBounds[2 * x + 1];
                    int sum = 1 << (PrecisionBits - 1);
                    for (int k = 0; k < count; k++) sum += row[min + k] * xWeights[x * xTaps + k];
                    outRow[x] = Clip8(sum);
                }
            }
        }
        else
        {
            temp = src;
            firstRow = 0;
        }
        if (height == temp.Height && firstRow == 0 && height == src.Height) return temp;

        var dst = new GreyImage(width, height);
        for (int y = 0; y < height; y++)
        {
            int min = yBounds[2 * y] - firstRow, count = yBounds[2 * y + 1];
            Span<byte> outRow = dst.Row(y);
            for (int x = 0; x < width; x++)
            {
                int sum = 1 << (PrecisionBits - 1);
                for (int k = 0; k < count; k++) sum += temp.Pixels[(min + k) * width + x] * yWeights[y * yTaps + k];
                outRow[x] = Clip8(sum);
            }
        }
        return dst;
    }

    private static byte Clip8(int v)
    {
        int r = v >> PrecisionBits;
        return r < 0 ? (byte)0 : r > 255 ? (byte)255 : (byte)r;
    }

    /// <summary>Per output index: first source index and tap count (bounds), and fixed-point weights, taps per row.</summary>
    private static (int[] Bounds, int[] Weights, int Taps) Coefficients(int inSize, int outSize, bool antialias)
    {
        double scale = (double)inSize / outSize;
        double filterScale = antialias ? Math.Max(scale, 1.0) : 1.0;
        double support = 1.0 * filterScale;
        int taps = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var weights = new int[outSize * taps];
        var w = new double[taps];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int min = (int)(center - support + 0.5);
            if (min < 0) min = 0;
            int max = (int)(center + support + 0.5);
            if (max > inSize) max = inSize;
            max -= min;
            double total = 0;
            for (int x = 0; x < max; x++)
            {
                double t = Math.Abs((x + min - center + 0.5) * ss);
                w[x] = t < 1.0 ? 1.0 - t : 0.0;
                total += w[x];
            }
            for (int x = 0; x < max; x++)
            {
                double k = total != 0.0 ? w[x] / total : w[x];
                weights[xx * taps + x] = k < 0 ? (int)(-0.5 + k * (1 << PrecisionBits)) : (int)(0.5 + k * (1 << PrecisionBits));
            }
            bounds[2 * xx] = min;
            bounds[2 * xx + 1] = max;
        }
        return (bounds, weights, taps);
    }
}
