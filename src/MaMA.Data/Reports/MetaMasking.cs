using MaMA.Data.Splits;

namespace MaMA.Data.Reports;

/// <summary>
/// Meta-information masking (training only, SPEC section 1): with probability
/// <see cref="MaskRatio"/> a sample's report is rebuilt with each of age, race, ethnicity, image
/// type, side and view replaced by "unknown" independently with probability <see cref="MaskMeta"/>.
/// Every draw is a counter-based hash of (seed, sample index, epoch, draw number), so the result
/// does not depend on thread order or on which samples were drawn before.
/// </summary>
public sealed record MetaMasking(double MaskRatio = 1.0, double MaskMeta = 0.8, ulong Seed = 0)
{
    /// <summary>No masking at all.</summary>
    public static MetaMasking None { get; } = new(0.0, 0.0, 0);

    /// <summary>The fields masked, in draw order (draw 1 to 6; draw 0 decides whether to mask at all).</summary>
    public static IReadOnlyList<string> MaskedFields { get; } = ["age", "race", "ethnicity", "image_type", "side", "view"];

    /// <summary>The fields of sample <paramref name="sampleIndex"/> at <paramref name="epoch"/>, masked or not.</summary>
    public ReportFields Apply(ReportFields fields, long sampleIndex, long epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(fields);
        if (MaskMeta <= 0 || !(Draw(sampleIndex, epoch, 0) < MaskRatio)) return fields;
        const string u = ReportVocabulary.Unknown;
        return fields with
        {
            Age = Draw(sampleIndex, epoch, 1) < MaskMeta ? u : fields.Age,
            Race = Draw(sampleIndex, epoch, 2) < MaskMeta ? u : fields.Race,
            Ethnicity = Draw(sampleIndex, epoch, 3) < MaskMeta ? u : fields.Ethnicity,
            ImageType = Draw(sampleIndex, epoch, 4) < MaskMeta ? u : fields.ImageType,
            Side = Draw(sampleIndex, epoch, 5) < MaskMeta ? u : fields.Side,
            View = Draw(sampleIndex, epoch, 6) < MaskMeta ? u : fields.View,
        };
    }

    /// <summary>The report of sample <paramref name="sampleIndex"/> at <paramref name="epoch"/>, masked or not.</summary>
    public StructuredReport Build(ReportFields fields, long sampleIndex, long epoch = 0) => ReportBuilder.Build(Apply(fields, sampleIndex, epoch));

    private double Draw(long sampleIndex, long epoch, int draw) =>
        SeededRandom.Uniform(Seed, unchecked((ulong)sampleIndex), unchecked((ulong)epoch), (ulong)draw);
}
