using MaMA.Data.Reports;
using MaMA.Data.Splits;
using MaMA.Data.Tables;

namespace MaMA.Data.Rsna;

/// <summary>One RSNA-Mammo image with its binary cancer label.</summary>
public sealed record RsnaRecord
{
    /// <summary>The image file found (absolute).</summary>
    public required string Path { get; init; }
    public required string PatientId { get; init; }
    public required string ImageId { get; init; }
    /// <summary>As written (L or R).</summary>
    public required string Laterality { get; init; }
    /// <summary>As written (CC, MLO, ...).</summary>
    public required string View { get; init; }
    /// <summary>0 (negative) or 1 (cancer): the binary label.</summary>
    public required int Cancer { get; init; }
    /// <summary>1-based line of the row in the table.</summary>
    public required int Line { get; init; }
}

/// <summary>How <see cref="RsnaDataset.Load"/> reads an RSNA-Mammo folder.</summary>
public sealed record RsnaOptions
{
    /// <summary>The table, relative to the dataset folder unless rooted.</summary>
    public string Csv { get; init; } = DatasetLayout.RsnaTrainCsv;

    /// <summary>
    /// The image root holding <c>{patient_id}/{image_id}.{ext}</c>, relative to the dataset folder
    /// unless rooted. Null: <c>DIR/train_images</c> when that folder exists, else <c>DIR</c>.
    /// </summary>
    public string? ImagesDir { get; init; }

    /// <summary>Extensions tried in order; the first file that exists is used.</summary>
    public IReadOnlyList<string> Extensions { get; init; } = ["png", "jpg", "dcm"];
}

/// <summary>
/// RSNA-Mammo (<c>train.csv</c> with patient_id, image_id, laterality, view, cancer, ...; images
/// <c>{patient_id}/{image_id}.{png|jpg|dcm}</c>): binary cancer labels. Rows whose image is missing
/// or whose <c>cancer</c> is not 0 or 1 are skipped and counted by reason; bad CSV rows are counted too.
/// </summary>
public sealed class RsnaDataset
{
    public const string MissingImage = "image file not found";
    public const string BadCancer = "cancer is not 0 or 1";
    public const string MissingId = "missing patient_id or image_id";

    public static IReadOnlyList<string> RequiredColumns { get; } = ["patient_id", "image_id", "laterality", "view", "cancer"];

    private RsnaDataset(string directory, string imagesDir, List<RsnaRecord> records, Dictionary<string, int> skipped, CsvTable table, List<string> patients,
        IReadOnlyList<string> extensions)
    {
        _extensions = extensions;
        Directory = directory;
        ImagesDirectory = imagesDir;
        Records = records;
        Skipped = skipped;
        Table = table;
        Patients = patients;
    }

    private readonly IReadOnlyList<string> _extensions;

    /// <summary>
    /// Every patient with a labelled row, whether or not its images were found, in table order: what
    /// a patient split is drawn from, so that a patient's split does not change when other patients'
    /// images are missing.
    /// </summary>
    public IReadOnlyList<string> Patients { get; }

    /// <summary>The rows left out, by reason, as one phrase ("24 rows skipped: image file not found (24) ..."), or "" when none were.</summary>
    public string SkippedSummary()
    {
        int total = Skipped.Values.Sum() + Table.SkippedRows;
        if (total == 0) return "";
        var parts = Skipped.Select(kv => $"{kv.Key} ({kv.Value})").ToList();
        if (Table.SkippedRows > 0) parts.Add($"bad CSV row ({Table.SkippedRows})");
        string where = Skipped.ContainsKey(MissingImage) ? $"; images are looked for as {ImagesDirectory}/{{patient_id}}/{{image_id}}.{{{string.Join("|", _extensions.Select(e => e.TrimStart('.')))}}}" : "";
        return $"{total} row(s) of {Table.Source} skipped: {string.Join(", ", parts)}{where}";
    }

    public string Directory { get; }
    public string ImagesDirectory { get; }
    public IReadOnlyList<RsnaRecord> Records { get; }

    /// <summary>Rows left out, by reason (CSV problems are in <see cref="Table"/>).</summary>
    public IReadOnlyDictionary<string, int> Skipped { get; }

    /// <summary>The table as read (its <see cref="CsvTable.Problems"/> lists bad rows).</summary>
    public CsvTable Table { get; }

    /// <summary>
    /// The records of <paramref name="split"/> in the patient-level 70/10/20 split drawn with
    /// <paramref name="splitSeed"/> over every labelled patient (<see cref="Patients"/>): RSNA ships no
    /// split, so every command that splits it (zero-shot, probing, fine-tuning) makes the same one in
    /// memory, the same whichever images are missing.
    /// </summary>
    public IReadOnlyList<RsnaRecord> InSplit(DataSplit split, ulong splitSeed)
    {
        PatientSplits splits = PatientSplits.Create(Patients, splitSeed);
        return Records.Where(r => splits.SplitOf(r.PatientId) == split).ToArray();
    }

    /// <summary>The two zero-shot prompts, class 0 then 1 (empty base).</summary>
    public static IReadOnlyList<string> Prompts => ZeroShotPrompts.Rsna();

    public static RsnaDataset Load(string directory, RsnaOptions? options = null)
    {
        options ??= new RsnaOptions();
        string dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: RSNA-Mammo dataset folder not found.");
        string csv = Path.IsPathRooted(options.Csv) ? options.Csv : Path.Combine(dir, options.Csv);
        string images = options.ImagesDir is { } given
            ? Path.GetFullPath(Path.IsPathRooted(given) ? given : Path.Combine(dir, given))
            : System.IO.Directory.Exists(Path.Combine(dir, DatasetLayout.RsnaImagesFolder)) ? Path.Combine(dir, DatasetLayout.RsnaImagesFolder) : dir;

        CsvTable table = CsvReader.ReadFile(csv, RequiredColumns);
        int p = table.Column("patient_id"), i = table.Column("image_id"), l = table.Column("laterality"), v = table.Column("view"), c = table.Column("cancer");
        var records = new List<RsnaRecord>();
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var patients = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (CsvRow row in table.Rows)
        {
            string patient = row[p].Trim(), image = row[i].Trim();
            if (patient.Length == 0 || image.Length == 0 || patient.Contains('/') || image.Contains('/') || patient.Contains("..") || image.Contains(".."))
            {
                Count(skipped, MissingId);
                continue;
            }
            int? cancer = row[c].Trim() switch { "0" => 0, "1" => 1, _ => null };
            if (cancer is null)
            {
                Count(skipped, BadCancer);
                continue;
            }
            if (seen.Add(patient)) patients.Add(patient);
            string? found = null;
            foreach (string ext in options.Extensions)
            {
                string candidate = Path.Combine(images, patient, image + "." + ext.TrimStart('.'));
                if (File.Exists(candidate))
                {
                    found = candidate;
                    break;
                }
            }
            if (found is null)
            {
                Count(skipped, MissingImage);
                continue;
            }
            records.Add(new RsnaRecord { Path = found, PatientId = patient, ImageId = image, Laterality = row[l], View = row[v], Cancer = cancer.Value, Line = row.Line });
        }
        return new RsnaDataset(dir, images, records, skipped, table, patients, options.Extensions);
    }

    private static void Count(Dictionary<string, int> counts, string reason) => counts[reason] = counts.GetValueOrDefault(reason) + 1;
}
