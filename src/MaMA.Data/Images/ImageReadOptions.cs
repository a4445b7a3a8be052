namespace MaMA.Data.Images;

/// <summary>Limits and DICOM pixel handling for <see cref="ImageReader"/> and <see cref="DicomReader"/>.</summary>
public sealed record ImageReadOptions
{
    /// <summary>100 megapixels: larger than any mammogram (about 4096 x 5600 at most), far smaller than a decompression bomb.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    public static ImageReadOptions Default { get; } = new();

    /// <summary>
    /// Width x height above which a file is refused, checked from its header before any pixel buffer
    /// is allocated (PNG/JPEG through ImageSharp's Identify, DICOM from Rows and Columns).
    /// </summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>How DICOM stored values become samples (the default is the reference's: stored values as they are).</summary>
    public DicomPixelOptions Dicom { get; init; } = DicomPixelOptions.Reference;
}

/// <summary>
/// What is applied to DICOM stored pixel values before preprocessing. The reference reads
/// <c>pydicom</c>'s <c>pixel_array</c>, i.e. the stored values with neither the modality LUT
/// (rescale) nor the VOI LUT (window) applied, so both default to off.
/// </summary>
public sealed record DicomPixelOptions
{
    /// <summary>Stored values as they are, like the reference.</summary>
    public static DicomPixelOptions Reference { get; } = new();

    /// <summary>Apply RescaleSlope/RescaleIntercept: sample = slope * stored + intercept.</summary>
    public bool ApplyRescale { get; init; }

    /// <summary>
    /// Apply WindowCenter/WindowWidth (first value of each; VOILUTFunction LINEAR, LINEAR_EXACT or
    /// SIGMOID, PS3.3 C.11.2.1.2) after the rescale, which windowing implies. Output is 0-255 and is
    /// not stretched again. Files without both window tags are left unwindowed.
    /// </summary>
    public bool ApplyWindow { get; init; }
}
