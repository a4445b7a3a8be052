namespace MaMA.Data.Reports;

/// <summary>
/// Zero-shot class prompts (SPEC section 1, instance mode, no masking). Each prompt then gets the
/// same SEP / BOS / EOS / 144-token treatment as a report.
/// </summary>
public static class ZeroShotPrompts
{
    /// <summary>The prompt for BI-RADS class <paramref name="birads"/> (0-6) on <paramref name="baseText"/> (the image's <see cref="StructuredReport.Base"/>).</summary>
    public static string Birads(string baseText, int birads) =>
        baseText + ReportVocabulary.FindingsPrefix + ReportVocabulary.FindingsLead + ReportVocabulary.MassSentence(birads) + " "
        + ReportBuilder.Impressions(birads) + ReportBuilder.Assessment(birads);

    /// <summary>The seven BI-RADS prompts, class 0 (A) to 6 (K).</summary>
    public static IReadOnlyList<string> Birads(string baseText) =>
        Enumerable.Range(0, ReportVocabulary.BiradsClasses).Select(k => Birads(baseText, k)).ToArray();

    /// <summary>The prompt for density <paramref name="density"/> (1-4).</summary>
    public static string Density(string baseText, int density)
    {
        if (density is < 1 or > ReportVocabulary.DensityClasses)
            throw new ArgumentOutOfRangeException(nameof(density), density, "density classes are 1-4.");
        return baseText + ReportBuilder.Composition(density);
    }

    /// <summary>The four density prompts, density 1 to 4 (class index 0 to 3).</summary>
    public static IReadOnlyList<string> Density(string baseText) =>
        Enumerable.Range(1, ReportVocabulary.DensityClasses).Select(d => Density(baseText, d)).ToArray();

    private static readonly string[] RsnaDescriptions =
    [
        "Cancer negative: overall healthy or just benign finding",
        "Cancer positive: screening image with known biopsy-proven malignancy or suspicious abnormality found",
    ];

    private static readonly string[] RsnaCodes = ["N or B", "A"];

    private static readonly string[] RsnaWords =
    [
        "Negative or Benign",
        "Additional imaging required with biopsy-proven malignancy or suspicious abnormality found",
    ];

    /// <summary>The RSNA-Mammo cancer prompt for class <paramref name="cancer"/> (0 negative, 1 positive); the base is empty.</summary>
    public static string Rsna(int cancer)
    {
        if (cancer is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(cancer), cancer, "RSNA classes are 0 and 1.");
        return ReportVocabulary.FindingsPrefix + ReportVocabulary.FindingsLead + RsnaDescriptions[cancer] + " "
            + ReportVocabulary.ImpressionsPrefix + "BI-RADS Category " + RsnaCodes[cancer] + ": " + RsnaWords[cancer] + ". "
            + ReportVocabulary.AssessmentPrefix + RsnaWords[cancer];
    }

    /// <summary>Both RSNA prompts, class 0 then 1.</summary>
    public static IReadOnlyList<string> Rsna() => [Rsna(0), Rsna(1)];
}
