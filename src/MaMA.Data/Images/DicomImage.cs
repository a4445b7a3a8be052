namespace MaMA.Data.Images;

/// <summary>
/// A single-frame grey DICOM image as read by <see cref="DicomReader"/>: the attributes that matter
/// for display and the stored pixel values, already masked to BitsStored (unsigned) or
/// sign-extended from BitsStored (signed, PixelRepresentation 1).
/// </summary>
public sealed class DicomImage
{
    internal DicomImage(string source, string transferSyntaxUid, int rows, int columns, int bitsAllocated, int bitsStored, bool signed,
        Photometric photometric, double rescaleSlope, double rescaleIntercept, double? windowCenter, double? windowWidth, string voiLutFunction,
        int[] storedValues)
    {
        Source = source;
        TransferSyntaxUid = transferSyntaxUid;
        Rows = rows;
        Columns = columns;
        BitsAllocated = bitsAllocated;
        BitsStored = bitsStored;
        Signed = signed;
        Photometric = photometric;
        RescaleSlope = rescaleSlope;
        RescaleIntercept = rescaleIntercept;
        WindowCenter = windowCenter;
        WindowWidth = windowWidth;
        VoiLutFunction = voiLutFunction;
        StoredValues = storedValues;
    }

    /// <summary>The file it was read from.</summary>
    public string Source { get; }

    public string TransferSyntaxUid { get; }

    /// <summary>Height (0028,0010).</summary>
    public int Rows { get; }

    /// <summary>Width (0028,0011).</summary>
    public int Columns { get; }

    /// <summary>8 or 16 (0028,0100).</summary>
    public int BitsAllocated { get; }

    /// <summary>1..BitsAllocated (0028,0101); higher bits of each stored word are ignored.</summary>
    public int BitsStored { get; }

    /// <summary>PixelRepresentation (0028,0103) is 1: two's complement values.</summary>
    public bool Signed { get; }

    public Photometric Photometric { get; }

    /// <summary>RescaleSlope (0028,1053), 1 when absent.</summary>
    public double RescaleSlope { get; }

    /// <summary>RescaleIntercept (0028,1052), 0 when absent.</summary>
    public double RescaleIntercept { get; }

    /// <summary>First value of WindowCenter (0028,1050), if present.</summary>
    public double? WindowCenter { get; }

    /// <summary>First value of WindowWidth (0028,1051), if present.</summary>
    public double? WindowWidth { get; }

    /// <summary>VOILUTFunction (0028,1056) as written, empty when absent; anything but LINEAR_EXACT or SIGMOID windows as LINEAR.</summary>
    public string VoiLutFunction { get; }

    /// <summary>Row-major stored values, Rows * Columns of them.</summary>
    public int[] StoredValues { get; }

    /// <summary>
    /// Samples for preprocessing. By default the stored values themselves (the reference); with
    /// <see cref="DicomPixelOptions.ApplyRescale"/> slope * v + intercept; with
    /// <see cref="DicomPixelOptions.ApplyWindow"/> (and both window tags present) the rescaled value
    /// through the VOI LUT function to 0-255, after which no 255/max stretch is applied.
    /// </summary>
    public RawImage ToRawImage(DicomPixelOptions? options = null)
    {
        options ??= DicomPixelOptions.Reference;
        var samples = new float[StoredValues.Length];
        bool window = options.ApplyWindow && WindowCenter is not null && WindowWidth is not null;
        bool rescale = options.ApplyRescale || window;
        if (window)
        {
            double c = WindowCenter!.Value, w = WindowWidth!.Value;
            string function = VoiLutFunction is "LINEAR_EXACT" or "SIGMOID" ? VoiLutFunction : "LINEAR";
            if ((function == "LINEAR" && w < 1) || w <= 0)
                throw new ImageReadException(Source, $"WindowWidth {w} is invalid for VOI LUT function {function} (it must be at least 1 for LINEAR, above 0 otherwise).");
            for (int i = 0; i < samples.Length; i++)
                samples[i] = (float)Window(RescaleSlope * StoredValues[i] + RescaleIntercept, c, w, function);
            return new RawImage(Columns, Rows, samples, Photometric, scaleToMax: false, Source);
        }
        for (int i = 0; i < samples.Length; i++)
            samples[i] = rescale ? (float)(RescaleSlope * StoredValues[i] + RescaleIntercept) : StoredValues[i];
        return new RawImage(Columns, Rows, samples, Photometric, scaleToMax: true, Source);
    }

    /// <summary>PS3.3 C.11.2.1.2: the VOI LUT functions with an output range of 0-255.</summary>
    internal static double Window(double x, double center, double width, string function)
    {
        const double yMin = 0, yMax = 255;
        switch (function)
        {
            case "LINEAR_EXACT":
                if (x <= center - width / 2) return yMin;
                if (x > center + width / 2) return yMax;
                return (x - center) / width * (yMax - yMin) + (yMax + yMin) / 2;
            case "SIGMOID":
                return (yMax - yMin) / (1 + Math.Exp(-4 * (x - center) / width)) + yMin;
            default: // LINEAR
                if (x <= center - 0.5 - (width - 1) / 2) return yMin;
                if (x > center - 0.5 + (width - 1) / 2) return yMax;
                return ((x - (center - 0.5)) / (width - 1) + 0.5) * (yMax - yMin) + yMin;
        }
    }
}
