namespace MaMA.Data.Reports;

/// <summary>Writes the structured report of SPEC section 1 from <see cref="ReportFields"/>, string for string.</summary>
public static class ReportBuilder
{
    public static StructuredReport Build(ReportFields f)
    {
        ArgumentNullException.ThrowIfNull(f);
        string procedure = ReportVocabulary.ProcedurePrefix + Clean(f.Procedure) + "; ";
        string reason = ReportVocabulary.ReasonPrefix + Clean(f.Reason) + "; ";
        string patient = PatientInfo(f.Race, f.Ethnicity, f.Age);
        string image = ImageInfo(f.ImageType, f.Side, f.View);
        string composition = Composition(f.Density) + " ";

        string findings = ReportVocabulary.FindingsPrefix + ReportVocabulary.FindingsLead + ReportVocabulary.MassSentence(f.Birads);
        if (f.MassShape is not null && f.MassDensity is not null)
            findings += "The mass is " + Clean(f.MassShape) + " and " + Clean(f.MassDensity) + ". ";
        findings += " ";

        string calcification = f.CalcDistribution is not null && f.CalcShape is not null
            ? "A " + Clean(f.CalcDistribution) + " " + Clean(f.CalcShape) + " calcification is present. " + " "
            : "";

        return new StructuredReport(procedure, reason, patient, image, composition, findings, calcification,
            Impressions(f.Birads), Assessment(f.Birads));
    }

    /// <summary>"Patient info: This patient is RACE, ETHNIC, and AGE years old. " + " ".</summary>
    public static string PatientInfo(string race, string ethnicity, string age) =>
        ReportVocabulary.PatientPrefix + "This patient is " + Clean(race) + ", " + Clean(ethnicity) + ", and " + Clean(age) + " years old. " + " ";

    /// <summary>"Image info: This is a TYPE full-field digital mammogram of the SIDE breast with VIEW view. " + " ".</summary>
    public static string ImageInfo(string imageType, string side, string view) =>
        ReportVocabulary.ImagePrefix + "This is a " + Clean(imageType) + " full-field digital mammogram of the " + Clean(side) + " breast with " + Clean(view) + " view. " + " ";

    /// <summary>"Breast composition: The breast is WORDS. " [+ the sensitivity sentence for 3 and 4], without the trailing " ".</summary>
    public static string Composition(int density) =>
        ReportVocabulary.CompositionPrefix + "The breast is " + ReportVocabulary.DensityWords(density) + ". "
        + (ReportVocabulary.HasDensityExtra(density) ? ReportVocabulary.DensityExtra : "");

    /// <summary>"Impressions: BI-RADS Category K: WORDS. ".</summary>
    public static string Impressions(int birads) =>
        ReportVocabulary.ImpressionsPrefix + "BI-RADS Category " + birads + ": " + ReportVocabulary.BiradsWords(birads) + ". ";

    /// <summary>"Overall Assessment: " + the assessment sentence.</summary>
    public static string Assessment(int birads) => ReportVocabulary.AssessmentPrefix + ReportVocabulary.AssessmentSentence(birads);

    /// <summary>Newlines in field values become spaces (CRLF, LF and CR each become one space).</summary>
    public static string Clean(string value) =>
        value.Contains('\n') || value.Contains('\r') ? value.Replace("\r\n", " ").Replace('\n', ' ').Replace('\r', ' ') : value;

    /// <summary>
    /// Replaces every "." and ";" by <paramref name="sep"/> (the SEP token text): each SEP then ends one
    /// sentence for the local loss. BOS/EOS wrapping and tokenization belong to the tokenizer.
    /// </summary>
    public static string MarkSentences(string text, string sep) => text.Replace(".", sep).Replace(";", sep);
}
