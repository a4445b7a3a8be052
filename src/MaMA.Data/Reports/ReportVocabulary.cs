namespace MaMA.Data.Reports;

/// <summary>
/// The fixed words of MaMA's structured reports (SPEC section 1), keyed by the EMBED codes:
/// assessment letters A N B P S M K (BI-RADS 0-6), densities 1-5, sides L R B.
/// </summary>
public static class ReportVocabulary
{
    /// <summary>The assessment letters in BI-RADS order: index = BI-RADS category 0-6.</summary>
    public const string AssessmentLetters = "ANBPSMK";

    public const int BiradsClasses = 7;

    /// <summary>Density classes 1-4 (5, "normal male dense", is written in reports but is not a class).</summary>
    public const int DensityClasses = 4;

    public const string Unknown = "unknown";
    public const string Hispanic = "Hispanic or Latino";
    public const string NonHispanic = "Non-Hispanic or Latino";

    public const string ProcedurePrefix = "Procedure reported: ";
    public const string ReasonPrefix = "Reason for procedure: ";
    public const string PatientPrefix = "Patient info: ";
    public const string ImagePrefix = "Image info: ";
    public const string CompositionPrefix = "Breast composition: ";
    public const string FindingsPrefix = "Findings: ";
    public const string ImpressionsPrefix = "Impressions: ";
    public const string AssessmentPrefix = "Overall Assessment: ";
    public const string FindingsLead = "The mammogram shows that ";
    public const string DensityExtra = "This may lower the sensitivity of mammography. ";

    private static readonly string[] MassSentences =
    [
        "an additional imaging is recommended. ",
        "no significant masses, calcification, or other abnormalities are present. ",
        "a benign finding is present. ",
        "a probably benign finding is present. ",
        "a suspicious abnormality is present. ",
        "a highly suggestive of malignancy is present, a biopsy is recommended. ",
        "a known biopsy-proven malignant mass is present. ",
    ];

    private static readonly string[] BiradsWordList =
    [
        "additional imaging required",
        "negative",
        "benign finding",
        "probably benign finding",
        "suspicious abnormality",
        "highly suggestive of malignancy",
        "known biopsy-proven malignancy",
    ];

    private static readonly string[] AssessmentSentences =
    [
        "Additional imaging is recommended. ",
        "Negative. ",
        "Benign. ",
        "Probably benign. ",
        "Suspicious abnormality. ",
        "Highly suggestive of malignancy. ",
        "Known biopsy-proven malignancy. ",
    ];

    private static readonly string[] DensityWordList =
    [
        "almost entirely fat",
        "scattered fibroglandular densities",
        "heterogeneously dense",
        "extremely dense",
        "normal male dense",
    ];

    /// <summary>BI-RADS category 0-6 of an assessment letter, or null when it is not one of A N B P S M K.</summary>
    public static int? BiradsOf(string? asses) =>
        asses is { Length: 1 } && AssessmentLetters.IndexOf(asses[0]) is int i and >= 0 ? i : null;

    /// <summary>The assessment letter of BI-RADS category 0-6.</summary>
    public static char LetterOf(int birads) => AssessmentLetters[CheckBirads(birads)];

    /// <summary>Density 1-5 of a <c>tissueden</c> value written exactly as "1" to "5", else null.</summary>
    public static int? DensityOf(string? tissueden) =>
        tissueden is { Length: 1 } && tissueden[0] is >= '1' and <= '5' ? tissueden[0] - '0' : null;

    /// <summary>Side word of an EMBED side code (L left, R right, B bilateral), else null.</summary>
    public static string? SideWord(string? code) => code switch
    {
        "L" => "left",
        "R" => "right",
        "B" => "bilateral",
        _ => null,
    };

    /// <summary>"screening" if the procedure contains "screen" (any case), else "diagnostic" if it contains "diag", else null.</summary>
    public static string? ReasonOf(string? procedure)
    {
        if (procedure is null) return null;
        if (procedure.Contains("screen", StringComparison.OrdinalIgnoreCase)) return "screening";
        if (procedure.Contains("diag", StringComparison.OrdinalIgnoreCase)) return "diagnostic";
        return null;
    }

    public static string MassSentence(int birads) => MassSentences[CheckBirads(birads)];

    public static string BiradsWords(int birads) => BiradsWordList[CheckBirads(birads)];

    public static string AssessmentSentence(int birads) => AssessmentSentences[CheckBirads(birads)];

    public static string DensityWords(int density) =>
        density is >= 1 and <= 5 ? DensityWordList[density - 1] : throw new ArgumentOutOfRangeException(nameof(density), density, "density must be 1-5.");

    /// <summary>Whether a density gets the "This may lower the sensitivity" sentence (3 and 4).</summary>
    public static bool HasDensityExtra(int density) => density is 3 or 4;

    private static int CheckBirads(int birads) =>
        birads is >= 0 and <= 6 ? birads : throw new ArgumentOutOfRangeException(nameof(birads), birads, "BI-RADS must be 0-6.");
}
