using MaMA.Data.Embed;
using MaMA.Data.Splits;
using MaMA.Data.Tables;

namespace MaMA.Evaluation.Embedding;

/// <summary>
/// The images to embed, in output row order, with optional labels (EMBED folders): from a folder,
/// from a CSV with a <c>path</c> column, or from an EMBED-shaped dataset's split.
/// </summary>
/// <param name="Paths">Absolute image paths.</param>
/// <param name="Birads">BI-RADS class 0-6 per image (EMBED only).</param>
/// <param name="Density">Density class label 0-3 per image, -1 for density 5 (EMBED only).</param>
public sealed record ImageList(IReadOnlyList<string> Paths, string Description, IReadOnlyList<int>? Birads = null, IReadOnlyList<int>? Density = null)
{
    /// <summary>
    /// File name endings taken from a folder. DICOM files without an extension are taken too, and so
    /// are files named by a DICOM UID (1.2.826.0.1.3680043.8.498.10002: the "extension" is digits).
    /// </summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".dcm", ".dicom"];

    private static bool IsImageName(string file)
    {
        string ext = Path.GetExtension(file);
        return ext.Length == 0 || Extensions.Contains(ext, StringComparer.OrdinalIgnoreCase) || ext[1..].All(char.IsAsciiDigit);
    }

    /// <summary>Every image file under <paramref name="directory"/> (recursively), sorted by relative path (ordinal).</summary>
    public static ImageList FromFolder(string directory)
    {
        string dir = Path.GetFullPath(directory);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: image folder not found.");
        string[] files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Where(IsImageName)
            .Where(f => !Path.GetFileName(f).StartsWith('.'))
            .OrderBy(f => Path.GetRelativePath(dir, f), StringComparer.Ordinal)
            .ToArray();
        return new ImageList(files, $"{files.Length} image files under {dir}");
    }

    /// <summary>The <c>path</c> column of a CSV file, in row order; relative paths are relative to the CSV's folder.</summary>
    public static ImageList FromCsv(string csv)
    {
        string file = Path.GetFullPath(csv);
        CsvTable table = CsvReader.ReadFile(file, ["path"]);
        if (table.Problems.FirstOrDefault(p => p.Skipped) is { } problem)
            throw new InvalidDataException($"{file}: {problem}; fix the row (the output rows must match the CSV rows).");
        int column = table.Column("path");
        string baseDir = Path.GetDirectoryName(file)!;
        var paths = new List<string>();
        foreach (CsvRow row in table.Rows)
        {
            string p = row[column].Trim();
            if (p.Length == 0) throw new InvalidDataException($"{file}:{row.Line}: empty path.");
            paths.Add(Path.GetFullPath(Path.IsPathRooted(p) ? p : Path.Combine(baseDir, p)));
        }
        return new ImageList(paths, $"{paths.Count} images listed in {file}");
    }

    /// <summary>The kept records of an EMBED-shaped folder (one split, or all), with their BI-RADS and density labels.</summary>
    public static ImageList FromEmbed(string directory, DataSplit? split, ulong seed = 0)
    {
        EmbedDataset data = EmbedDataset.Load(directory);
        IReadOnlyList<EmbedRecord> records = split is { } s ? data.InSplit(data.LoadOrCreateSplits(null, seed), s) : data.Records;
        return new ImageList(records.Select(r => r.Path).ToArray(),
            $"{records.Count} images of EMBED {data.Directory}, {(split is { } sp ? $"split {sp.Name()}" : "all splits")}",
            records.Select(r => r.Birads).ToArray(), records.Select(r => r.DensityLabel ?? -1).ToArray());
    }
}
