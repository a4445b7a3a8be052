namespace MaMA.Data.Images;

/// <summary>How grey values map to brightness (DICOM Photometric Interpretation).</summary>
public enum Photometric
{
    /// <summary>0 is black (the usual convention; PNG and JPEG are always this).</summary>
    Monochrome2,

    /// <summary>0 is white: the image is inverted after scaling to 8 bits.</summary>
    Monochrome1,
}

/// <summary>
/// A decoded grey image before preprocessing: one float sample per pixel, row-major. Samples are the
/// stored values of the file: 0-255 for 8-bit PNG/JPEG, 0-65535 for 16-bit PNG, and for DICOM the
/// stored pixel values (signed where PixelRepresentation is 1), with rescale and windowing applied
/// only when <see cref="DicomPixelOptions"/> asked for them. float holds every 16-bit integer exactly.
/// </summary>
public sealed class RawImage
{
    public RawImage(int width, int height, float[] samples, Photometric photometric, bool scaleToMax, string source)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (width < 1 || height < 1) throw new ArgumentException($"image size must be positive, got {width}x{height}.");
        if (samples.LongLength != (long)width * height)
            throw new ArgumentException($"a {width}x{height} image needs {(long)width * height} samples, got {samples.LongLength}.");
        Width = width;
        Height = height;
        Samples = samples;
        Photometric = photometric;
        ScaleToMax = scaleToMax;
        Source = source;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Row-major samples, <c>Width * Height</c> of them.</summary>
    public float[] Samples { get; }

    public Photometric Photometric { get; }

    /// <summary>
    /// Whether preprocessing stretches the samples to 0-255 by 255/max (the reference does this to
    /// every DICOM pixel array; this engine also does it for 16-bit PNGs). false for 8-bit PNG and
    /// JPEG, whose values are used as they are (the reference reads those with cv2.imread).
    /// </summary>
    public bool ScaleToMax { get; }

    /// <summary>The file it came from (for messages).</summary>
    public string Source { get; }
}
