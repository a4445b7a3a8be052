namespace MaMA.Data.Images;

/// <summary>
/// The reference's offline preprocessing (MaMA <c>dataset/utils.py</c>: <c>read_from_dicom</c> and
/// <c>resize_img</c>), step by step:
/// <list type="number">
/// <item><see cref="ToEightBit"/>: <c>cv2.convertScaleAbs(x, alpha=255/x.max())</c>, then
/// <c>cv2.bitwise_not</c> for MONOCHROME1;</item>
/// <item><see cref="ResizeToSquare"/>: the long side to <c>size</c> with INTER_AREA
/// (<see cref="AreaResize"/>), the short side scaled by the same factor and truncated, then zero
/// padding of the short side to a square, <c>floor(pad/2)</c> before (left/top) and
/// <c>ceil(pad/2)</c> after (right/bottom).</item>
/// </list>
/// </summary>
public static class Preprocessing
{
    /// <summary>The long side of <c>mama prepare</c>'s output (SPEC section 2).</summary>
    public const int DefaultSize = 1024;

    /// <summary>
    /// To 8 bits. With <see cref="RawImage.ScaleToMax"/> (DICOM, 16-bit PNG) each sample s becomes
    /// <c>round(|s * (float)(255 / max)|)</c> clamped to 0-255, in float arithmetic and rounded half to
    /// even as OpenCV's convertScaleAbs; the absolute value is the reference's (negative signed values
    /// come out bright). When max is 0 the image is all zero (the reference would divide by zero: 255/0
    /// is inf and 0 * inf is NaN, which OpenCV also turns into 0). Without it (8-bit PNG/JPEG, windowed
    /// DICOM) samples are rounded and clamped. MONOCHROME1 is then inverted (255 - v).
    /// </summary>
    public static GreyImage ToEightBit(RawImage raw)
    {
        ArgumentNullException.ThrowIfNull(raw);
        float[] s = raw.Samples;
        var pixels = new byte[s.Length];
        if (raw.ScaleToMax)
        {
            float max = float.NegativeInfinity;
            foreach (float v in s) max = MathF.Max(max, v);
            if (max != 0 && float.IsFinite(max))
            {
                float alpha = (float)(255.0 / max);
                for (int i = 0; i < s.Length; i++) pixels[i] = AreaResize.SaturateByte(MathF.Abs(s[i] * alpha));
            }
        }
        else
        {
            for (int i = 0; i < s.Length; i++) pixels[i] = AreaResize.SaturateByte(s[i]);
        }
        if (raw.Photometric == Photometric.Monochrome1)
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(255 - pixels[i]);
        return new GreyImage(raw.Width, raw.Height, pixels);
    }

    /// <summary>
    /// The reference's <c>resize_img</c>: when height &gt;= width (ties count as tall) the height becomes
    /// <paramref name="size"/> and the width <c>int(width * (size / height))</c>, else the other way
    /// round; resized with INTER_AREA. With <paramref name="pad"/> the short side is then zero-padded
    /// to <paramref name="size"/>, the odd pixel going to the right or bottom. A short side that would
    /// truncate to 0 is kept at 1 pixel (the reference fails there).
    /// </summary>
    public static GreyImage ResizeToSquare(GreyImage image, int size = DefaultSize, bool pad = true)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (size < 1) throw new ArgumentException($"size must be positive, got {size}.");
        (int width, int height) = TargetSize(image.Width, image.Height, size);
        GreyImage resized = AreaResize.Resize(image, width, height);
        if (!pad || (width == size && height == size)) return resized;
        var square = new GreyImage(size, size);
        int left = (size - width) / 2, top = (size - height) / 2;
        for (int y = 0; y < height; y++)
            resized.Row(y).CopyTo(square.Row(top + y)[left..]);
        return square;
    }

    /// <summary>The size <see cref="ResizeToSquare"/> resizes to before padding.</summary>
    public static (int Width, int Height) TargetSize(int width, int height, int size)
    {
        if (height >= width)
            return (Math.Max(1, (int)(width * (size / (double)height))), size);
        return (size, Math.Max(1, (int)(height * (size / (double)width))));
    }

    /// <summary>Both steps: what <c>mama prepare</c> writes for one file.</summary>
    public static GreyImage Prepare(RawImage raw, int size = DefaultSize, bool pad = true) => ResizeToSquare(ToEightBit(raw), size, pad);
}
