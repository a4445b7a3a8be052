namespace MaMA.Data.Images;

/// <summary>
/// An 8-bit grey image: <see cref="Width"/> x <see cref="Height"/> bytes in row-major order
/// (<c>Pixels[y * Width + x]</c>), 0 black, 255 white. This is what preprocessing produces, what
/// <c>mama prepare</c> writes as PNG and what the training transforms consume.
/// </summary>
public sealed class GreyImage
{
    /// <summary>Wraps <paramref name="pixels"/> (not copied); its length must be width * height.</summary>
    public GreyImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (width < 1 || height < 1) throw new ArgumentException($"image size must be positive, got {width}x{height}.");
        if (pixels.LongLength != (long)width * height)
            throw new ArgumentException($"a {width}x{height} image needs {(long)width * height} pixels, got {pixels.LongLength}.");
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>A black (all zero) image.</summary>
    public GreyImage(int width, int height) : this(width, height, new byte[checked(width * height)]) { }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Row-major pixels, <c>Width * Height</c> of them.</summary>
    public byte[] Pixels { get; }

    public byte this[int x, int y]
    {
        get => Pixels[y * Width + x];
        set => Pixels[y * Width + x] = value;
    }

    /// <summary>Row <paramref name="y"/> as a span.</summary>
    public Span<byte> Row(int y) => Pixels.AsSpan(y * Width, Width);

    /// <summary>A copy of the rectangle at (<paramref name="left"/>, <paramref name="top"/>) of the given size, which must lie inside the image.</summary>
    public GreyImage Crop(int left, int top, int width, int height)
    {
        if (left < 0 || top < 0 || width < 1 || height < 1 || left + width > Width || top + height > Height)
            throw new ArgumentOutOfRangeException(nameof(left), $"crop ({left},{top}) {width}x{height} does not lie inside the {Width}x{Height} image.");
        var result = new GreyImage(width, height);
        for (int y = 0; y < height; y++)
            Pixels.AsSpan((top + y) * Width + left, width).CopyTo(result.Row(y));
        return result;
    }

    public GreyImage Clone() => new(Width, Height, (byte[])Pixels.Clone());

    public override string ToString() => $"GreyImage {Width}x{Height}";
}
