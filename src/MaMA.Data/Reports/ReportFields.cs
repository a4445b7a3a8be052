using System.Globalization;

namespace MaMA.Data.Reports;

/// <summary>
/// The values a structured report is written from, already normalised (SPEC section 1): missing
/// race, age, image type, side or view are "unknown"; the side is its word ("left", ...); mass and
/// calcification details are the legend meanings, or null when a code did not decode.
/// </summary>
public sealed record ReportFields
{
    /// <summary>The procedure as written (<c>StudyDescription</c>).</summary>
    public required string Procedure { get; init; }

    /// <summary>"screening" or "diagnostic" (see <see cref="ReportVocabulary.ReasonOf"/>).</summary>
    public required string Reason { get; init; }

    public required string Race { get; init; }

    /// <summary>"Hispanic or Latino" or "Non-Hispanic or Latino" (or "unknown" when masked).</summary>
    public required string Ethnicity { get; init; }

    /// <summary>Integer age as text ("57"), or "unknown".</summary>
    public required string Age { get; init; }

    /// <summary>The image type as written ("2D"), or "unknown".</summary>
    public required string ImageType { get; init; }

    /// <summary>"left", "right", "bilateral" or "unknown".</summary>
    public required string Side { get; init; }

    /// <summary>The view as written ("CC", "MLO", ...), or "unknown".</summary>
    public required string View { get; init; }

    /// <summary>Density 1-5.</summary>
    public required int Density { get; init; }

    /// <summary>BI-RADS category 0-6 (assessment letters A N B P S M K).</summary>
    public required int Birads { get; init; }

    public string? MassShape { get; init; }
    public string? MassDensity { get; init; }
    public string? CalcDistribution { get; init; }
    public string? CalcShape { get; init; }

    /// <summary>The value, or "unknown" when it is null, empty or only white space.</summary>
    public static string OrUnknown(string? value) => IsMissing(value) ? ReportVocabulary.Unknown : value!;

    /// <summary>True for null, empty or white-space-only values (how a CSV writes a missing value).</summary>
    public static bool IsMissing(string? value) => string.IsNullOrWhiteSpace(value);

    /// <summary>Ethnicity rule: "Hispanic or Latino" stays, anything else (missing included) is "Non-Hispanic or Latino".</summary>
    public static string NormalizeEthnicity(string? value) =>
        value == ReportVocabulary.Hispanic ? ReportVocabulary.Hispanic : ReportVocabulary.NonHispanic;

    /// <summary>Age as an integer truncated toward zero (57.8 -> "57"), or "unknown" when missing or not a number.</summary>
    public static string NormalizeAge(string? value)
    {
        if (IsMissing(value)) return ReportVocabulary.Unknown;
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double age) || !double.IsFinite(age))
            return ReportVocabulary.Unknown;
        double t = Math.Truncate(age);
        if (t is > int.MaxValue or < int.MinValue) return ReportVocabulary.Unknown;
        return ((int)t).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Side word of an image laterality code, or "unknown".</summary>
    public static string NormalizeSide(string? code) => ReportVocabulary.SideWord(code) ?? ReportVocabulary.Unknown;
}
