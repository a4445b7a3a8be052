namespace MaMA.Data.Tables;

/// <summary>One problem found while reading a CSV file: where (1-based physical line) and why.</summary>
/// <param name="Line">1-based line number of the record's first line in the file.</param>
/// <param name="Reason">What was wrong, in words.</param>
/// <param name="Skipped">True when the record was dropped; false for a warning on a kept record.</param>
public sealed record CsvProblem(int Line, string Reason, bool Skipped)
{
    public override string ToString() => $"line {Line}: {Reason}{(Skipped ? " (row skipped)" : "")}";
}

/// <summary>One data record of a CSV file. Only the columns the table keeps are stored.</summary>
public sealed class CsvRow
{
    private readonly string[] _values;

    internal CsvRow(int line, string[] values)
    {
        Line = line;
        _values = values;
    }

    /// <summary>1-based line number of the record's first line in the file.</summary>
    public int Line { get; }

    /// <summary>The value in kept column <paramref name="column"/> (see <see cref="CsvTable.Column"/>).</summary>
    public string this[int column] => _values[column];
}

/// <summary>
/// A CSV file read into memory: its header, the rows that parsed, and the problems met on the way
/// (bad rows are reported with their line number and skipped, never a crash). Read with
/// <see cref="CsvReader"/>.
/// </summary>
public sealed class CsvTable
{
    private readonly Dictionary<string, int> _columns;

    internal CsvTable(string source, IReadOnlyList<string> header, IReadOnlyList<string> kept, List<CsvRow> rows, List<CsvProblem> problems, int replacedBytes)
    {
        Source = source;
        Header = header;
        KeptColumns = kept;
        Rows = rows;
        Problems = problems;
        InvalidUtf8Sequences = replacedBytes;
        _columns = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < kept.Count; i++) _columns.TryAdd(kept[i], i);
    }

    /// <summary>The file path (or the name given for in-memory text).</summary>
    public string Source { get; }

    /// <summary>Every column name of the header row, in file order (surrounding spaces trimmed).</summary>
    public IReadOnlyList<string> Header { get; }

    /// <summary>The columns stored in each row, in the order <see cref="Column"/> indexes them.</summary>
    public IReadOnlyList<string> KeptColumns { get; }

    public IReadOnlyList<CsvRow> Rows { get; }

    /// <summary>Every problem met, in file order (skipped rows and warnings).</summary>
    public IReadOnlyList<CsvProblem> Problems { get; }

    /// <summary>Number of records dropped because of a problem.</summary>
    public int SkippedRows => Problems.Count(p => p.Skipped);

    /// <summary>Number of invalid UTF-8 sequences replaced by U+FFFD while decoding.</summary>
    public int InvalidUtf8Sequences { get; }

    public bool HasColumn(string name) => _columns.ContainsKey(name);

    /// <summary>Index of a kept column for <see cref="CsvRow"/>'s indexer.</summary>
    public int Column(string name) =>
        _columns.TryGetValue(name, out int i) ? i : throw new InvalidDataException($"{Source}: missing required column '{name}'.");

    /// <summary>One line summary: rows read, rows skipped, bytes replaced.</summary>
    public string Summary()
    {
        string s = $"{Path.GetFileName(Source)}: {Rows.Count} rows, {SkippedRows} skipped";
        if (InvalidUtf8Sequences > 0) s += $", {InvalidUtf8Sequences} invalid UTF-8 sequence(s) replaced";
        return s;
    }
}
