namespace MaMA.Data.Images;

/// <summary>
/// Resizing of 8-bit grey images with OpenCV's <c>cv2.resize(..., interpolation=cv2.INTER_AREA)</c>
/// semantics, reimplemented from its documented behaviour (scale factors computed as OpenCV does:
/// <c>inv = dst / src</c>, <c>scale = 1 / inv</c>):
/// <list type="bullet">
/// <item><b>Shrinking in both directions</b> (scale &gt;= 1 on both axes): every output pixel is the
/// mean of the source area it covers, with fractional weights for the source pixels cut by its
/// borders. Weights and sums are float, applied row by row, rounded half to even at the end. When
/// both scales are integers the plain block mean is used (OpenCV's fast path): for 2x2 blocks
/// rounded half up as <c>(sum + 2) &gt;&gt; 2</c>, otherwise <c>sum * (1/area)</c> rounded half to even.</item>
/// <item><b>Enlarging</b> (either scale &lt; 1): each output pixel covers 1/scale of a source pixel; it
/// takes the source pixel it lies in, or, where it straddles a source pixel border, the two
/// neighbours weighted by the covered fractions. So integer enlargement replicates pixels, and
/// fractional enlargement is a two-tap blend only at borders: "bilinear-like", not bilinear. Uses
/// OpenCV's 11-bit fixed-point coefficients and its rounding for 8-bit images. An axis that shrinks
/// while the other enlarges uses the same two-tap rule (as OpenCV does).</item>
/// </list>
/// Checked against OpenCV 4.6 on small and random images (see the tests).
/// </summary>
public static class AreaResize
{
    /// <summary>Resizes <paramref name="src"/> to <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static GreyImage Resize(GreyImage src, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (width < 1 || height < 1) throw new ArgumentException($"target size must be positive, got {width}x{height}.");
        if (width == src.Width && height == src.Height) return src.Clone();
        double invX = (double)width / src.Width, invY = (double)height / src.Height;
        double scaleX = 1.0 / invX, scaleY = 1.0 / invY;
        if (scaleX >= 1 && scaleY >= 1)
        {
            int ix = (int)Math.Round(scaleX), iy = (int)Math.Round(scaleY);
            bool fast = Math.Abs(scaleX - ix) < DblEpsilon && Math.Abs(scaleY - iy) < DblEpsilon;
            return fast ? BlockMean(src, width, height, ix, iy) : Shrink(src, width, height, scaleX, scaleY);
        }
        return Enlarge(src, width, height, invX, invY, scaleX, scaleY);
    }

    /// <summary>C's DBL_EPSILON (2^-52), which OpenCV compares against (.NET's double.Epsilon is the smallest subnormal).</summary>
    private const double DblEpsilon = 2.220446049250313e-16;

    private static GreyImage BlockMean(GreyImage src, int width, int height, int sx, int sy)
    {
        var dst = new GreyImage(width, height);
        int area = sx * sy;
        float scale = 1f / area;
        byte[] s = src.Pixels, d = dst.Pixels;
        int sw = src.Width;
        for (int dy = 0; dy < height; dy++)
        for (int dx = 0; dx < width; dx++)
        {
            int sum = 0;
            int top = dy * sy, left = dx * sx;
            for (int y = 0; y < sy; y++)
            for (int x = 0; x < sx; x++)
                sum += s[(top + y) * sw + left + x];
            d[dy * width + dx] = sx == 2 && sy == 2 ? (byte)((sum + 2) >> 2) : SaturateByte(sum * scale);
        }
        return dst;
    }

    private readonly record struct Weight(int Dst, int Src, float Alpha);

    /// <summary>For each output index, the source indices it covers and their weights (fractions of the cell, summing to 1).</summary>
    private static List<Weight> AreaWeights(int srcSize, int dstSize, double scale)
    {
        var tab = new List<Weight>(srcSize * 2);
        for (int dx = 0; dx < dstSize; dx++)
        {
            double f1 = dx * scale, f2 = f1 + scale;
            double cell = Math.Min(scale, srcSize - f1);
            int s1 = (int)Math.Ceiling(f1), s2 = (int)Math.Floor(f2);
            s2 = Math.Min(s2, srcSize - 1);
            s1 = Math.Min(s1, s2);
            if (s1 - f1 > 1e-3) tab.Add(new Weight(dx, s1 - 1, (float)((s1 - f1) / cell)));
            for (int sx = s1; sx < s2; sx++) tab.Add(new Weight(dx, sx, (float)(1.0 / cell)));
            if (f2 - s2 > 1e-3) tab.Add(new Weight(dx, s2, (float)(Math.Min(Math.Min(f2 - s2, 1.0), cell) / cell)));
        }
        return tab;
    }

    private static GreyImage Shrink(GreyImage src, int width, int height, double scaleX, double scaleY)
    {
        List<Weight> xtab = AreaWeights(src.Width, width, scaleX);
        List<Weight> ytab = AreaWeights(src.Height, height, scaleY);
        var dst = new GreyImage(width, height);
        var buf = new float[width];
        var sum = new float[width];
        byte[] s = src.Pixels;
        int j = 0;
        for (int dy = 0; dy < height; dy++)
        {
            Array.Clear(sum);
            for (; j < ytab.Count && ytab[j].Dst == dy; j++)
            {
                Array.Clear(buf);
                int row = ytab[j].Src * src.Width;
                foreach (Weight w in xtab) buf[w.Dst] += s[row + w.Src] * w.Alpha;
                float beta = ytab[j].Alpha;
                for (int dx = 0; dx < width; dx++) sum[dx] += beta * buf[dx];
            }
            Span<byte> d = dst.Row(dy);
            for (int dx = 0; dx < width; dx++) d[dx] = SaturateByte(sum[dx]);
        }
        return dst;
    }

    private const int CoefBits = 11;
    private const int CoefScale = 1 << CoefBits;

    /// <summary>Source index and fixed-point weights (1 - f, f) along one axis for the enlarging ("area mode" linear) path.</summary>
    private static (int[] Index, short[] W0, short[] W1) EnlargeTaps(int srcSize, int dstSize, double inv, double scale)
    {
        var index = new int[dstSize];
        var w0 = new short[dstSize];
        var w1 = new short[dstSize];
        for (int d = 0; d < dstSize; d++)
        {
            int s = (int)Math.Floor(d * scale);
            float f = (float)((d + 1) - (s + 1) * inv);
            f = f <= 0 ? 0f : f - MathF.Floor(f);
            if (s >= srcSize - 1)
            {
                s = srcSize - 1;
                f = 0;
            }
            index[d] = s;
            w0[d] = SaturateShort((1f - f) * CoefScale);
            w1[d] = SaturateShort(f * CoefScale);
        }
        return (index, w0, w1);
    }

    private static GreyImage Enlarge(GreyImage src, int width, int height, double invX, double invY, double scaleX, double scaleY)
    {
        (int[] xi, short[] xa0, short[] xa1) = EnlargeTaps(src.Width, width, invX, scaleX);
        (int[] yi, short[] yb0, short[] yb1) = EnlargeTaps(src.Height, height, invY, scaleY);
        // Horizontal pass into int rows (value * 2048), then the vertical blend with OpenCV's 8-bit rounding.
        var rows = new int[src.Height][];
        int[] HorizontalRow(int sy)
        {
            if (rows[sy] is { } cached) return cached;
            var r = new int[width];
            ReadOnlySpan<byte> s = src.Pixels.AsSpan(sy * src.Width, src.Width);
            for (int dx = 0; dx < width; dx++)
            {
                int sx = xi[dx];
                r[dx] = sx + 1 < src.Width ? s[sx] * xa0[dx] + s[sx + 1] * xa1[dx] : s[sx] * CoefScale;
            }
            return rows[sy] = r;
        }
        var dst = new GreyImage(width, height);
        for (int dy = 0; dy < height; dy++)
        {
            int sy = yi[dy];
            int[] r0 = HorizontalRow(sy);
            int[] r1 = HorizontalRow(Math.Min(sy + 1, src.Height - 1));
            int b0 = yb0[dy], b1 = yb1[dy];
            Span<byte> d = dst.Row(dy);
            for (int dx = 0; dx < width; dx++)
            {
                int v = (((b0 * (r0[dx] >> 4)) >> 16) + ((b1 * (r1[dx] >> 4)) >> 16) + 2) >> 2;
                d[dx] = (byte)Math.Clamp(v, 0, 255);
            }
        }
        return dst;
    }

    /// <summary>OpenCV's saturate_cast&lt;uchar&gt;(float): round half to even, clamp to 0-255.</summary>
    internal static byte SaturateByte(float v)
    {
        float r = MathF.Round(v);
        return r <= 0 ? (byte)0 : r >= 255 ? (byte)255 : (byte)r;
    }

    private static short SaturateShort(float v)
    {
        float r = MathF.Round(v);
        return r <= short.MinValue ? short.MinValue : r >= short.MaxValue ? short.MaxValue : (short)r;
    }
}
