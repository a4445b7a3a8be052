namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// Every base op's parity cases. Each op family adds its cases in its own partial file
/// (OpCatalog.{Family}.cs) through a static method listed in <see cref="All"/>. Shapes are odd on
/// purpose (17, 33, ...) so SIMD tails and partial tiles are exercised.
/// </summary>
public static partial class OpCatalog
{
    public static IReadOnlyList<OpCase> All { get; } = Build();

    public static OpCase Get(string name) => All.FirstOrDefault(c => c.Name == name)
        ?? throw new KeyNotFoundException($"No op case named '{name}'.");

    private static List<OpCase> Build()
    {
        var cases = new List<OpCase>();
        AddCore(cases);
        AddSoftmaxFamily(cases);
        AddNormalizationFamily(cases);
        AddEmbeddingFamily(cases);
        AddDropoutFamily(cases);
        AddSpatialFamily(cases);
        AddAttentionFamily(cases);
        AddLoraFamily(cases);
        AddLocalAlignmentFamily(cases);
        AddContrastiveFamily(cases);
        var duplicate = cases.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidOperationException($"Duplicate op case '{duplicate.Key}'.");
        return cases;
    }

    // Op families implemented in other partial files (a missing one contributes no cases).
    static partial void AddSoftmaxFamily(List<OpCase> cases);

    static partial void AddNormalizationFamily(List<OpCase> cases);

    static partial void AddEmbeddingFamily(List<OpCase> cases);

    static partial void AddDropoutFamily(List<OpCase> cases);

    static partial void AddSpatialFamily(List<OpCase> cases);

    // The four MaMA kernel families.
    static partial void AddAttentionFamily(List<OpCase> cases);

    static partial void AddLoraFamily(List<OpCase> cases);

    static partial void AddLocalAlignmentFamily(List<OpCase> cases);

    static partial void AddContrastiveFamily(List<OpCase> cases);
}
