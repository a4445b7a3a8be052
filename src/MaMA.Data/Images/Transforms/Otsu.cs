namespace MaMA.Data.Images.Transforms;

/// <summary>
/// The reference's <c>OtsuCut</c>: Otsu's threshold on the 8-bit grey image
/// (<c>cv2.threshold(img, _, 255, THRESH_BINARY + THRESH_OTSU)</c>), foreground = pixels above the
/// threshold, and a crop to the bounding box of the foreground (the image unchanged when there is none).
/// </summary>
public static class Otsu
{
    /// <summary>
    /// OpenCV's Otsu threshold on the 256-bin histogram: the grey level t that maximises the
    /// between-class variance q1 q2 (mu1 - mu2)^2 of {v &lt;= t} and {v &gt; t}, first maximum wins,
    /// splits with a class weight below FLT_EPSILON skipped; 0 when no split qualifies (a constant image).
    /// </summary>
    public static int Threshold(GreyImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        Span<long> histogram = stackalloc long[256];
        foreach (byte p in image.Pixels) histogram[p]++;
        double scale = 1.0 / image.Pixels.Length;
        double mu = 0;
        for (int i = 0; i < 256; i++) mu += i * (double)histogram[i];
        mu *= scale;
        const double FltEpsilon = 1.1920928955078125e-07;
        double mu1 = 0, q1 = 0, maxSigma = 0;
        int threshold = 0;
        for (int i = 0; i < 256; i++)
        {
            double p = histogram[i] * scale;
            mu1 *= q1;
            q1 += p;
            double q2 = 1 - q1;
            if (Math.Min(q1, q2) < FltEpsilon || Math.Max(q1, q2) > 1 - FltEpsilon) continue;
            mu1 = (mu1 + i * p) / q1;
            double mu2 = (mu - q1 * mu1) / q2;
            double sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
            if (sigma > maxSigma)
            {
                maxSigma = sigma;
                threshold = i;
            }
        }
        return threshold;
    }

    /// <summary>The bounding box of the pixels above the Otsu threshold, or null when there are none.</summary>
    public static (int Left, int Top, int Width, int Height)? ForegroundBox(GreyImage image)
    {
        int t = Threshold(image);
        int left = int.MaxValue, right = -1, top = -1, bottom = -1;
        for (int y = 0; y < image.Height; y++)
        {
            ReadOnlySpan<byte> row = image.Row(y);
            int first = -1, last = -1;
            for (int x = 0; x < row.Length; x++)
            {
                if (row[x] <= t) continue;
                if (first < 0) first = x;
                last = x;
            }
            if (first < 0) continue;
            if (top < 0) top = y;
            bottom = y;
            left = Math.Min(left, first);
            right = Math.Max(right, last);
        }
        return top < 0 ? null : (left, top, right - left + 1, bottom - top + 1);
    }

    /// <summary>Crops to <see cref="ForegroundBox"/>; returns the image itself when there is no foreground.</summary>
    public static GreyImage Crop(GreyImage image)
    {
        var box = ForegroundBox(image);
        if (box is not { } b) return image;
        if (b.Width == image.Width && b.Height == image.Height) return image;
        return image.Crop(b.Left, b.Top, b.Width, b.Height);
    }
}
