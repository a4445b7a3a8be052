namespace MaMA.Data.Embed;

/// <summary>Column names of the EMBED tables (SPEC section 1).</summary>
public static class EmbedColumns
{
    // Metadata: one row per image.
    public const string Path = "anon_dicom_path";
    public const string Patient = "empi_anon";
    public const string Study = "acc_anon";
    public const string Laterality = "ImageLateralityFinal";
    public const string View = "ViewPosition";
    public const string ImageType = "FinalImageType";
    public const string Procedure = "StudyDescription";

    // Clinical: one row per finding.
    public const string FindingSide = "side";
    public const string Assessment = "asses";
    public const string Density = "tissueden";
    public const string Age = "age_at_study";
    public const string Race = "RACE_DESC";
    public const string Ethnicity = "ETHNIC_GROUP_DESC";
    public const string MassShape = "massshape";
    public const string MassDensity = "massdens";
    public const string CalcFind = "calcfind";
    public const string CalcDistribution = "calcdistri";

    // Legend.
    public const string LegendHeader = "Header in export";
    public const string LegendCode = "Code";
    public const string LegendMeaning = "Meaning";

    /// <summary>The only image type used.</summary>
    public const string TwoD = "2D";

    public static IReadOnlyList<string> MetadataRequired { get; } = [Path, Patient, Study, Laterality, View, ImageType, Procedure];

    public static IReadOnlyList<string> ClinicalRequired { get; } =
        [Study, FindingSide, Assessment, Density, Age, Race, Ethnicity, MassShape, MassDensity, CalcFind, CalcDistribution];

    public static IReadOnlyList<string> LegendRequired { get; } = [LegendHeader, LegendCode, LegendMeaning];
}
