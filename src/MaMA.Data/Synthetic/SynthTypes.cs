namespace MaMA.Data.Synthetic;

/// <summary>Options of <see cref="SyntheticEmbed.Write"/> (and <c>mama synth</c>).</summary>
public sealed record SynthOptions
{
    /// <summary>Number of studies (each has 4 2D images: L/R x CC/MLO). At least 1.</summary>
    public int Studies { get; init; } = 100;

    /// <summary>Everything written is a function of this seed (and the sizes): same seed, same bytes.</summary>
    public int Seed { get; init; }

    /// <summary>Image width in pixels (portrait images; 64-4096).</summary>
    public int Width { get; init; } = 256;

    /// <summary>Image height in pixels (64-4096).</summary>
    public int Height { get; init; } = 320;

    /// <summary>Write into a folder that already has files (files of the same names are replaced, others are left alone).</summary>
    public bool Force { get; init; }

    /// <summary>Called as images are written: (images written, images in total). May be called from several threads, never concurrently.</summary>
    public Action<int, int>? Progress { get; init; }

    /// <summary>Threads used to render images; 0 = one per processor. The output does not depend on it.</summary>
    public int Threads { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> on values the generator cannot honour.</summary>
    public void Validate()
    {
        if (Studies < 1) throw new ArgumentException($"the number of studies must be at least 1, got {Studies}.");
        if (Studies > 1_000_000) throw new ArgumentException($"at most 1000000 studies, got {Studies}.");
        if (Width < 64 || Width > 4096 || Height < 64 || Height > 4096)
            throw new ArgumentException($"image size must be 64-4096 pixels on each side, got {Width}x{Height}.");
        if (Threads < 0) throw new ArgumentException($"threads must be 0 (all processors) or more, got {Threads}.");
    }
}

/// <summary>How an image's clinical row was chosen (SPEC section 1): same side, the bilateral row, or all rows of the study.</summary>
public enum SynthRowRule
{
    SameSide,
    Bilateral,
    AllRows,
}

/// <summary>A mass as drawn: centre and mean radius in pixels, added brightness (0-255 scale) before the display knee.</summary>
public readonly record struct SynthMass(double X, double Y, double Radius, double Contrast, string Shape, string Margin);

/// <summary>One calcification speck as drawn (pixel centre) and its added brightness.</summary>
public readonly record struct SynthSpeck(double X, double Y, double Contrast);

/// <summary>
/// The pixel-level ground truth of one phantom: the numbers the renderer used. Intensities are on
/// the 0-255 scale before noise; the final 8-bit value compresses values above 215 with a soft knee.
/// </summary>
public sealed record SynthPixelStats
{
    /// <summary>Pixels inside the breast outline (pectoral muscle included).</summary>
    public int BreastPixels { get; init; }

    /// <summary>Pixels of the pectoral muscle (MLO only; 0 for CC).</summary>
    public int PectoralPixels { get; init; }

    /// <summary>Fraction of breast tissue (muscle excluded) asked to be fibroglandular.</summary>
    public double TargetCoverage { get; init; }

    /// <summary>Fraction of breast tissue (muscle excluded) rendered more fibroglandular than fatty.</summary>
    public double DenseFraction { get; init; }

    /// <summary>Mean brightness of fatty tissue and of fibroglandular tissue as rendered.</summary>
    public double FatLevel { get; init; }

    public double DenseLevel { get; init; }

    /// <summary>Mean 8-bit value of the written pixels inside the breast.</summary>
    public double MeanBreastValue { get; init; }

    public IReadOnlyList<SynthMass> Masses { get; init; } = [];

    public IReadOnlyList<SynthSpeck> Specks { get; init; } = [];

    /// <summary>Centres (x, y, radius) of focal asymmetries.</summary>
    public IReadOnlyList<(double X, double Y, double Radius)> Asymmetries { get; init; } = [];

    /// <summary>Biopsy clip markers (x, y) drawn for known cancers.</summary>
    public IReadOnlyList<(double X, double Y)> Clips { get; init; } = [];
}

/// <summary>
/// Ground truth of one written image: where it is, what the tables say about it (after the SPEC's
/// row choice and skip rules), and what its pixels contain.
/// </summary>
public sealed record SynthImage
{
    /// <summary>Path relative to the dataset folder, '/'-separated: <c>images/&lt;empi&gt;/&lt;acc&gt;/&lt;file&gt;.png</c>.</summary>
    public required string RelativePath { get; init; }

    /// <summary>The value written to <c>anon_dicom_path</c> (under <see cref="SyntheticEmbed.PathPrefix"/>).</summary>
    public required string AnonDicomPath { get; init; }

    public required long Patient { get; init; }

    public required long Study { get; init; }

    /// <summary>"L" or "R".</summary>
    public required string Laterality { get; init; }

    /// <summary>"CC" or "MLO".</summary>
    public required string View { get; init; }

    /// <summary><c>FinalImageType</c>: "2D", or "cview" for the occasional synthetic 2D duplicates readers must drop.</summary>
    public required string ImageType { get; init; }

    public required string StudyDescription { get; init; }

    /// <summary>0-based index of the chosen row in the clinical CSV (data rows, header excluded).</summary>
    public required int ClinicalRow { get; init; }

    public required SynthRowRule RowRule { get; init; }

    /// <summary><c>asses</c> of the chosen row ("A", "N", ... or "" when missing).</summary>
    public required string Assessment { get; init; }

    /// <summary>BI-RADS number 0-6 of the chosen row (A0 N1 B2 P3 S4 M5 K6), or null when missing.</summary>
    public int? Birads { get; init; }

    /// <summary><c>tissueden</c> of the chosen row (1-5), or null when missing.</summary>
    public int? Density { get; init; }

    /// <summary>The density class the pixels were drawn with (1-4, or 5 for a male breast), even when the table omits it.</summary>
    public required int RenderedDensity { get; init; }

    /// <summary>True when the SPEC's skip rule drops this image (procedure, reason, density or assessment missing).</summary>
    public bool Skipped => SkipReason is not null;

    /// <summary>Which field is missing ("procedure", "reason", "density", "assessment"), or null.</summary>
    public string? SkipReason { get; init; }

    public bool HasMass => Pixels.Masses.Count > 0;

    public bool HasCalcification => Pixels.Specks.Count > 0;

    public bool HasAsymmetry => Pixels.Asymmetries.Count > 0;

    public required SynthPixelStats Pixels { get; init; }
}

/// <summary>What <see cref="SyntheticEmbed.Write"/> wrote.</summary>
public sealed record SynthSummary
{
    public required string Directory { get; init; }

    public required int Patients { get; init; }

    public required int Studies { get; init; }

    public required int ClinicalRows { get; init; }

    /// <summary>Every image row of the metadata table, in table order (2D and the occasional cview).</summary>
    public required IReadOnlyList<SynthImage> Images { get; init; }

    public required TimeSpan Elapsed { get; init; }
}
