namespace MaMA.Data.Embed;

/// <summary>A path prefix rewrite: a path starting with <see cref="From"/> gets <see cref="To"/> instead.</summary>
/// <param name="From">The prefix as written in <c>anon_dicom_path</c>.</param>
/// <param name="To">The replacement; a relative result is resolved against the dataset folder.</param>
public sealed record PathPrefix(string From, string To)
{
    /// <summary>Parses "OLD=NEW".</summary>
    public static PathPrefix Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"a path prefix rewrite is written OLD=NEW, got '{text}'.");
        return new PathPrefix(text[..eq], text[(eq + 1)..]);
    }
}

/// <summary>How <see cref="EmbedDataset.Load"/> reads an EMBED-shaped folder.</summary>
public sealed record EmbedOptions
{
    /// <summary>
    /// Prefix rewrites applied to <c>anon_dicom_path</c> (the first that matches). Default:
    /// <see cref="DatasetLayout.EmbedSourcePrefix"/> to <c>images/</c>. Paths that are relative after
    /// the rewrite are resolved against the dataset folder.
    /// </summary>
    public IReadOnlyList<PathPrefix> PathPrefixes { get; init; } = [new(DatasetLayout.EmbedSourcePrefix, DatasetLayout.ImagesFolder + "/")];

    /// <summary>Skip (and count) images whose file does not exist. Off by default: reports do not need the pixels.</summary>
    public bool RequireImageFiles { get; init; }

    /// <summary>How the finding row's arg-min/arg-max is applied; the published behaviour by default.</summary>
    public FindingRowIndexing FindingRowIndexing { get; init; } = FindingRowIndexing.Reference;

    /// <summary>Table paths, relative to the dataset folder unless rooted.</summary>
    public string MetadataCsv { get; init; } = DatasetLayout.MetadataCsv;
    public string ClinicalCsv { get; init; } = DatasetLayout.ClinicalCsv;
    public string LegendCsv { get; init; } = DatasetLayout.LegendCsv;
}
