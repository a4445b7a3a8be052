using MaMA.Data.Tables;

namespace MaMA.Data.Embed;

/// <summary>What <see cref="EmbedDataset.Load"/> kept, skipped (counted by reason) and met as CSV problems.</summary>
public sealed class EmbedLoadSummary
{
    public const string NotTwoD = "not a 2D image";
    public const string MissingPath = "missing image path";
    public const string MissingStudy = "missing study (acc_anon)";
    public const string MissingPatient = "missing patient (empi_anon)";
    public const string DuplicatePath = "duplicate image path";
    public const string NoClinicalRows = "no clinical rows for the study";
    public const string MissingProcedure = "missing procedure";
    public const string MissingReason = "missing reason";
    public const string MissingDensity = "missing density";
    public const string MissingAssessment = "missing assessment";
    public const string MissingImageFile = "image file not found";

    /// <summary>A path the file system cannot name (a NUL character): counted, not a crash of the whole load.</summary>
    public const string InvalidPath = "invalid image path";

    private readonly Dictionary<string, int> _skipped = new(StringComparer.Ordinal);
    private readonly List<string> _order = new();

    /// <summary>Data rows of the metadata table that parsed.</summary>
    public int MetadataRows { get; internal set; }

    /// <summary>Images kept (records).</summary>
    public int Kept { get; internal set; }

    /// <summary>Images left out, by reason, in the order the reasons were first met. <see cref="NotTwoD"/> is a filter, counted here too.</summary>
    public IReadOnlyList<(string Reason, int Count)> Skipped => _order.Select(r => (r, _skipped[r])).ToArray();

    public int SkippedCount(string reason) => _skipped.GetValueOrDefault(reason);

    /// <summary>Every CSV problem, with the file it came from.</summary>
    public List<(string File, CsvProblem Problem)> CsvProblems { get; } = new();

    /// <summary>Rows dropped by the CSV reader (bad quoting, wrong field count), all tables together.</summary>
    public int CsvRowsSkipped => CsvProblems.Count(p => p.Problem.Skipped);

    internal void Skip(string reason)
    {
        if (!_skipped.TryGetValue(reason, out int n)) _order.Add(reason);
        _skipped[reason] = n + 1;
    }

    internal void AddTable(CsvTable table)
    {
        foreach (CsvProblem p in table.Problems) CsvProblems.Add((table.Source, p));
    }

    /// <summary>Human-readable lines: kept, each skip reason, CSV problems.</summary>
    public IEnumerable<string> Lines()
    {
        yield return $"metadata rows {MetadataRows}, kept {Kept}";
        foreach ((string reason, int count) in Skipped) yield return $"skipped {count}: {reason}";
        if (CsvProblems.Count > 0) yield return $"CSV rows skipped {CsvRowsSkipped}, CSV warnings {CsvProblems.Count - CsvRowsSkipped}";
    }

    public override string ToString() => string.Join("; ", Lines());
}
