using MaMA.Data.Tables;

namespace MaMA.Data.Splits;

/// <summary>The three data splits.</summary>
public enum DataSplit
{
    Train,
    Valid,
    Test,
}

/// <summary>Names of <see cref="DataSplit"/> as written in files and on the command line.</summary>
public static class DataSplitNames
{
    public static string Name(this DataSplit split) => split switch
    {
        DataSplit.Train => "train",
        DataSplit.Valid => "valid",
        DataSplit.Test => "test",
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };

    public static DataSplit? Parse(string? name) => name switch
    {
        "train" => DataSplit.Train,
        "valid" => DataSplit.Valid,
        "test" => DataSplit.Test,
        _ => null,
    };
}

/// <summary>
/// Patient-level splits (SPEC: 70/10/20 by patient). <see cref="Create"/> sorts the distinct
/// patient ids (ordinal), shuffles them with a seeded <see cref="SeededRandom"/> and assigns the
/// first round(0.7 n) to train, the next round(0.1 n) to valid and the rest to test. The assignment
/// is written to a CSV file (<c>empi_anon,split</c>, sorted by patient) and read back identically.
/// </summary>
public sealed class PatientSplits
{
    public const string PatientColumn = "empi_anon";
    public const string SplitColumn = "split";

    private readonly Dictionary<string, DataSplit> _byPatient;

    public PatientSplits(IReadOnlyDictionary<string, DataSplit> byPatient)
    {
        _byPatient = new Dictionary<string, DataSplit>(byPatient, StringComparer.Ordinal);
    }

    /// <summary>Every patient and its split.</summary>
    public IReadOnlyDictionary<string, DataSplit> ByPatient => _byPatient;

    /// <summary>The split of <paramref name="patient"/>, or null when it is not assigned.</summary>
    public DataSplit? SplitOf(string patient) => _byPatient.TryGetValue(patient, out DataSplit s) ? s : null;

    /// <summary>Patients in <paramref name="split"/>, sorted (ordinal).</summary>
    public IReadOnlyList<string> PatientsIn(DataSplit split) =>
        _byPatient.Where(kv => kv.Value == split).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToArray();

    public int Count(DataSplit split) => _byPatient.Count(kv => kv.Value == split);

    /// <summary>Seeded patient-level split (see the class summary).</summary>
    public static PatientSplits Create(IEnumerable<string> patients, ulong seed, double trainFraction = 0.7, double validFraction = 0.1)
    {
        if (trainFraction < 0 || validFraction < 0 || trainFraction + validFraction > 1)
            throw new ArgumentOutOfRangeException(nameof(trainFraction), "split fractions must be non-negative and sum to at most 1.");
        List<string> ids = patients.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        new SeededRandom(seed).Shuffle(ids);
        int n = ids.Count;
        int nTrain = (int)Math.Round(n * trainFraction, MidpointRounding.AwayFromZero);
        int nValid = Math.Min(n - nTrain, (int)Math.Round(n * validFraction, MidpointRounding.AwayFromZero));
        var map = new Dictionary<string, DataSplit>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
            map[ids[i]] = i < nTrain ? DataSplit.Train : i < nTrain + nValid ? DataSplit.Valid : DataSplit.Test;
        return new PatientSplits(map);
    }

    /// <summary>Writes the file atomically, one row per patient sorted (ordinal).</summary>
    public void Write(string path) =>
        CsvWriter.WriteFile(path, [PatientColumn, SplitColumn],
            _byPatient.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (IReadOnlyList<string>)[kv.Key, kv.Value.Name()]));

    /// <summary>Reads a split file; any bad row, unknown split name or patient listed twice is an error.</summary>
    public static PatientSplits Read(string path)
    {
        CsvTable table = CsvReader.ReadFile(path, [PatientColumn, SplitColumn]);
        if (table.SkippedRows > 0)
        {
            CsvProblem first = table.Problems.First(p => p.Skipped);
            throw new InvalidDataException($"{path}: line {first.Line}: {first.Reason}; a split file must be complete.");
        }
        int p = table.Column(PatientColumn), s = table.Column(SplitColumn);
        var map = new Dictionary<string, DataSplit>(StringComparer.Ordinal);
        foreach (CsvRow row in table.Rows)
        {
            DataSplit split = DataSplitNames.Parse(row[s])
                ?? throw new InvalidDataException($"{path}: line {row.Line}: unknown split '{row[s]}' (expected train, valid or test).");
            if (!map.TryAdd(row[p], split))
                throw new InvalidDataException($"{path}: line {row.Line}: patient '{row[p]}' is listed twice.");
        }
        return new PatientSplits(map);
    }

    /// <summary>Reads <paramref name="path"/> when it exists; otherwise creates the splits with <paramref name="seed"/> and writes them there.</summary>
    public static PatientSplits LoadOrCreate(string path, IEnumerable<string> patients, ulong seed, out bool created)
    {
        created = !File.Exists(path);
        if (!created) return Read(path);
        PatientSplits splits = Create(patients, seed);
        splits.Write(path);
        return splits;
    }
}
