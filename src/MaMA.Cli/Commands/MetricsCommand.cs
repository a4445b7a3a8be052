using System.Globalization;
using MaMA.Evaluation.Metrics;
using MaMA.Evaluation.Plots;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama metrics --scores FILE.csv --labels FILE.csv --out FILE.json [--logits] [--plots DIR]
/// [--class-names A,B,...]</c>: the metrics of SPEC section 7 for one set of classifier outputs
/// (see <see cref="ClassificationMetrics"/> and docs/evaluation.md). Writes the JSON report, a
/// confusion-matrix PNG and a ROC PNG (named after the JSON: <c>X.json</c> gives
/// <c>X.confusion.png</c> and <c>X.roc.png</c>, beside it or in <c>--plots DIR</c>), all atomically,
/// and prints the metrics.
/// <para>
/// Scores CSV: one row per sample, one comma-separated column per class: probabilities, or logits
/// with <c>--logits</c> (softmaxed per row). Labels CSV: one integer class per row. Either file may
/// start with a header row (a first row in which no cell is a number); a scores header names the
/// classes in the plots unless <c>--class-names</c> does. Blank lines are skipped. Every input
/// problem is one message naming the file and line, exit code 2.
/// </para>
/// </summary>
internal static class MetricsCommand
{
    public static int Run(CommandLine cl)
    {
        string? scoresPath = cl.Get("scores");
        string? labelsPath = cl.Get("labels");
        string? outPath = cl.Get("out");
        string? plotsDir = cl.Get("plots");
        string? classNamesText = cl.Get("class-names");
        bool logits = cl.Flag("logits");
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        if (string.IsNullOrWhiteSpace(scoresPath)) throw new UsageException("--scores FILE.csv is required (one row per sample, one column per class).");
        if (string.IsNullOrWhiteSpace(labelsPath)) throw new UsageException("--labels FILE.csv is required (one integer class per row).");
        if (string.IsNullOrWhiteSpace(outPath)) throw new UsageException("--out FILE.json is required.");

        (string[]? header, List<(int Line, double[] Values)> scoreRows) = ReadScores(scoresPath);
        List<(int Line, int Label)> labelRows = ReadLabels(labelsPath);
        int k = scoreRows[0].Values.Length;
        if (k < 2) throw new UsageException($"{scoresPath}: {k} column; the scores need one column per class, at least 2.");
        if (scoreRows.Count != labelRows.Count)
            throw new UsageException($"{scoresPath} has {scoreRows.Count} sample rows but {labelsPath} has {labelRows.Count}; they must match one to one.");

        var scores = new double[scoreRows.Count, k];
        var labels = new int[labelRows.Count];
        for (int i = 0; i < scoreRows.Count; i++)
        {
            (int line, double[] row) = scoreRows[i];
            string? problem = logits ? ScoreTable.ProblemWithLogits(row) : ScoreTable.ProblemWithProbabilities(row);
            if (problem is not null) throw new UsageException($"{scoresPath}:{line}: {problem}");
            for (int c = 0; c < k; c++) scores[i, c] = row[c];
            (int labelLine, int label) = labelRows[i];
            if (label < 0 || label >= k)
                throw new UsageException($"{labelsPath}:{labelLine}: label {label} is outside [0, {k - 1}] ({scoresPath} has {k} class columns).");
            labels[i] = label;
        }

        string[]? classNames = classNamesText is not null ? classNamesText.Split(',', StringSplitOptions.TrimEntries) : header;
        if (classNames is not null && classNames.Length != k)
            throw new UsageException(classNamesText is not null
                ? $"--class-names lists {classNames.Length} names for {k} classes."
                : $"{scoresPath}:1: the header has {classNames.Length} names but the rows have {k} columns.");

        ScoreTable table = logits ? ScoreTable.FromLogits(scores, labels) : ScoreTable.FromProbabilities(scores, labels);
        MetricsReport report = ClassificationMetrics.Compute(table);

        (string confusionPng, string rocPng) = PlotPaths(outPath, plotsDir);
        report.WriteJson(outPath);
        ConfusionMatrixPlot.Save(report.ConfusionMatrix, confusionPng, classNames, $"Confusion matrix ({table.Count} samples)");
        RocPlot.Save(table, rocPng, classNames, table.ClassCount == 2 ? "ROC" : "ROC, one vs rest");

        foreach (string line in report.Lines()) Console.WriteLine(line);
        Console.WriteLine($"wrote {outPath}, {confusionPng}, {rocPng}");
        return 0;
    }

    /// <summary>X.json -> X.confusion.png and X.roc.png, beside the JSON or in <paramref name="plotsDir"/>.</summary>
    internal static (string Confusion, string Roc) PlotPaths(string outPath, string? plotsDir)
    {
        string stem = Path.GetFileNameWithoutExtension(outPath);
        string dir = plotsDir ?? Path.GetDirectoryName(Path.GetFullPath(outPath)) ?? ".";
        return (Path.Combine(dir, stem + ".confusion.png"), Path.Combine(dir, stem + ".roc.png"));
    }

    private static (string[]? Header, List<(int Line, double[] Values)> Rows) ReadScores(string path)
    {
        string[]? header = null;
        var rows = new List<(int, double[])>();
        int width = -1;
        foreach ((int line, string[] cells) in Lines(path))
        {
            var values = new double[cells.Length];
            int numeric = 0;
            for (int c = 0; c < cells.Length; c++)
                if (TryNumber(cells[c], out values[c])) numeric++;
            if (rows.Count == 0 && header is null && numeric == 0)
            {
                header = cells;
                width = cells.Length;
                continue;
            }
            if (width >= 0 && cells.Length != width)
                throw new UsageException($"{path}:{line}: {cells.Length} columns, but {(header is not null && rows.Count == 0 ? "the header has" : "the rows before have")} {width}.");
            width = cells.Length;
            if (numeric != cells.Length)
            {
                int bad = Array.FindIndex(cells, cell => !TryNumber(cell, out _));
                throw new UsageException($"{path}:{line}: column {bad + 1} is '{cells[bad]}', not a number.");
            }
            rows.Add((line, values));
        }
        if (rows.Count == 0) throw new UsageException($"{path}: no score rows{(header is not null ? " after the header" : "")}.");
        return (header, rows);
    }

    private static List<(int Line, int Label)> ReadLabels(string path)
    {
        var rows = new List<(int, int)>();
        bool first = true;
        foreach ((int line, string[] cells) in Lines(path))
        {
            bool isNumber = TryNumber(cells[0], out double value);
            if (first && cells.Length == 1 && !isNumber)
            {
                first = false;
                continue; // header
            }
            first = false;
            if (cells.Length != 1)
                throw new UsageException($"{path}:{line}: {cells.Length} columns; the labels file holds one integer class per row.");
            if (!isNumber || value != Math.Floor(value) || Math.Abs(value) > int.MaxValue)
                throw new UsageException($"{path}:{line}: '{cells[0]}' is not an integer class label.");
            rows.Add((line, (int)value));
        }
        if (rows.Count == 0) throw new UsageException($"{path}: no label rows.");
        return rows;
    }

    /// <summary>The non-blank records of a CSV file with their 1-based line numbers, cells unquoted (a quoted cell may hold commas) and trimmed.</summary>
    private static IEnumerable<(int Line, string[] Cells)> Lines(string path)
    {
        if (!File.Exists(path)) throw new UsageException($"{path}: no such file.");
        IReadOnlyList<(int Line, IReadOnlyList<string> Fields)> records;
        try
        {
            records = MaMA.Data.Tables.CsvReader.ReadRecords(path);
        }
        catch (InvalidDataException e)
        {
            throw new UsageException(e.Message);
        }
        return records.Select(r => (r.Line, r.Fields.Select(c => c.Trim()).ToArray()));
    }

    private static bool TryNumber(string cell, out double value) =>
        double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
}
