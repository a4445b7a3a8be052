namespace MaMA.Data.Reports;

/// <summary>
/// A structured report as its parts (SPEC section 1). <see cref="Text"/> is their concatenation, in
/// order; <see cref="Base"/> is the first four (procedure, reason, patient info, image info), which
/// instance-mode zero-shot prompts reuse. Parts that the template omits are empty strings.
/// </summary>
public sealed record StructuredReport(
    string Procedure,
    string Reason,
    string PatientInfo,
    string ImageInfo,
    string Composition,
    string Findings,
    string Calcification,
    string Impressions,
    string Assessment)
{
    /// <summary>Procedure + reason + patient info + image info.</summary>
    public string Base => Procedure + Reason + PatientInfo + ImageInfo;

    /// <summary>The whole report as plain text (before SEP replacement).</summary>
    public string Text => Base + Composition + Findings + Calcification + Impressions + Assessment;

    /// <summary>The parts in report order, named.</summary>
    public IEnumerable<(string Name, string Text)> Parts()
    {
        yield return ("procedure", Procedure);
        yield return ("reason", Reason);
        yield return ("patient_info", PatientInfo);
        yield return ("image_info", ImageInfo);
        yield return ("composition", Composition);
        yield return ("findings", Findings);
        yield return ("calcification", Calcification);
        yield return ("impressions", Impressions);
        yield return ("assessment", Assessment);
    }

    public override string ToString() => Text;
}
