namespace MaMA.Engine.Nn;

/// <summary>
/// A state dict (or checkpoint) that does not fit a module: names every missing key, every
/// unexpected key and every shape mismatch (with both shapes). Nothing was loaded.
/// </summary>
public sealed class StateDictException : InvalidOperationException
{
    public StateDictException(string context, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
        : base(Describe(context, missing, unexpected, mismatched))
    {
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
        ShapeMismatches = mismatched;
    }

    /// <summary>Keys the module has and the source lacks.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Keys the source has and the module lacks.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>One line per mismatch: "key: checkpoint [a, b] vs model [c, d]".</summary>
    public IReadOnlyList<string> ShapeMismatches { get; }

    private static string Describe(string context, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
    {
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"missing keys ({missing.Count}): {string.Join(", ", missing)}");
        if (unexpected.Count > 0) parts.Add($"unexpected keys ({unexpected.Count}): {string.Join(", ", unexpected)}");
        if (mismatched.Count > 0) parts.Add($"shape mismatches ({mismatched.Count}): {string.Join("; ", mismatched)}");
        return $"Error loading {context}: {string.Join(". ", parts)}.";
    }
}

/// <summary>What a non-strict load skipped (like PyTorch's _IncompatibleKeys).</summary>
public sealed record LoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);
