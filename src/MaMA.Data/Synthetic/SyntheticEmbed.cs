using System.Diagnostics;
using System.Globalization;
using MaMA.Data.Tables;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace MaMA.Data.Synthetic;

/// <summary>
/// The built-in synthetic dataset: writes an EMBED-shaped folder (the three tables under
/// <c>tables/</c>, PNG mammograms under <c>images/</c>, and <c>synthetic_truth.csv</c> with the
/// per-image ground truth) whose pixels follow its labels: fibroglandular area follows the density
/// class, masses, asymmetries and calcifications follow the BI-RADS assessment and the finding codes.
/// <para>
/// <c>anon_dicom_path</c> values are absolute paths under <see cref="PathPrefix"/> that already end in
/// <c>.png</c>; replacing the prefix with <c>DIR/images/</c> (the EMBED reader's default rewrite)
/// gives the file (<c>/mnt/NAS2/mammo/anon_dicom/&lt;empi&gt;/&lt;acc&gt;/&lt;file&gt;.png</c> is
/// <c>DIR/images/&lt;empi&gt;/&lt;acc&gt;/&lt;file&gt;.png</c>).
/// </para>
/// Deterministic: the same options (seed, studies, size) give byte-identical files on every run.
/// </summary>
public static class SyntheticEmbed
{
    /// <summary>The site prefix of every <c>anon_dicom_path</c>: <see cref="DatasetLayout.EmbedSourcePrefix"/>, which EMBED readers rewrite to <c>images/</c> by default.</summary>
    public const string PathPrefix = DatasetLayout.EmbedSourcePrefix;

    /// <summary>Folder (relative to the dataset folder) that replaces <see cref="PathPrefix"/>.</summary>
    public const string ImagesFolder = DatasetLayout.ImagesFolder;

    /// <summary>Per-image ground truth, relative to the dataset folder.</summary>
    public const string TruthCsv = "synthetic_truth.csv";

    public static IReadOnlyList<string> MetadataColumns { get; } =
    [
        "anon_dicom_path", "empi_anon", "acc_anon", "study_date_anon", "StudyDescription", "SeriesDescription",
        "FinalImageType", "ImageLateralityFinal", "ViewPosition", "spot_mag", "Manufacturer", "ManufacturerModelName",
        "Rows", "Columns",
    ];

    public static IReadOnlyList<string> ClinicalColumns { get; } =
    [
        "empi_anon", "acc_anon", "study_date_anon", "desc", "numfind", "side", "asses", "tissueden",
        "massshape", "massmargin", "massdens", "calcfind", "calcdistri", "GENDER_DESC", "age_at_study",
        "RACE_DESC", "ETHNIC_GROUP_DESC",
    ];

    public static IReadOnlyList<string> LegendColumns { get; } = ["Header in export", "Code", "Meaning"];

    public static IReadOnlyList<string> TruthColumns { get; } =
    [
        "path", "anon_dicom_path", "empi_anon", "acc_anon", "ImageLateralityFinal", "ViewPosition", "FinalImageType",
        "clinical_row", "row_rule", "asses", "birads", "tissueden", "rendered_density", "skip_reason",
        "has_mass", "has_calcification", "has_asymmetry", "masses", "specks", "target_coverage", "dense_fraction",
        "breast_pixels", "mean_breast_value",
    ];

    private static readonly string Assessments = "ANBPSMK";

    /// <summary>
    /// Writes the dataset into <paramref name="dir"/> (created if needed). Refuses a folder that
    /// already has entries unless <see cref="SynthOptions.Force"/>. Every file is written to a
    /// temporary name and renamed into place; the images come first and the metadata table last,
    /// so a folder whose metadata table exists is complete.
    /// </summary>
    public static SynthSummary Write(string dir, SynthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (string.IsNullOrWhiteSpace(dir)) throw new ArgumentException("the output folder is empty.");
        var watch = Stopwatch.StartNew();
        string root = Path.GetFullPath(dir);
        if (File.Exists(root)) throw new IOException($"{root} is a file, not a folder.");
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any() && !options.Force)
            throw new IOException($"{root} is not empty; choose an empty folder or pass --force (Force) to write into it.");

        var plan = SynthPlanner.Plan(options);
        var images = plan.Images;
        foreach (string folder in images.Select(i => Path.GetDirectoryName(Path.Combine(root, i.RelativePath))!).Distinct())
            Directory.CreateDirectory(folder);
        Directory.CreateDirectory(Path.Combine(root, DatasetLayout.TablesFolder));

        // Render each 2D image once (cview rows reuse its bytes), in parallel; results are keyed by image.
        var stats = new SynthPixelStats[images.Count];
        var index = new Dictionary<PlannedImage, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < images.Count; i++) index[images[i]] = i;
        var sources = Enumerable.Range(0, images.Count).Where(i => images[i].SameAs is null).ToArray();
        var copies = Enumerable.Range(0, images.Count).Where(i => images[i].SameAs is not null).ToLookup(i => index[images[i].SameAs!]);
        int written = 0;
        var progressLock = new object();
        var encoder = new PngEncoder
        {
            ColorType = PngColorType.Grayscale,
            BitDepth = PngBitDepth.Bit8,
            CompressionLevel = PngCompressionLevel.Level3,
            FilterMethod = PngFilterMethod.Adaptive,
            ChunkFilter = PngChunkFilter.ExcludeAll,
        };
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Threads > 0 ? options.Threads : Environment.ProcessorCount };
        Parallel.ForEach(sources, parallel, i =>
        {
            var (pixels, st) = PhantomRenderer.Render(images[i], options.Width, options.Height);
            byte[] png = EncodePng(pixels, options.Width, options.Height, encoder);
            stats[i] = st;
            WriteAtomically(Path.Combine(root, images[i].RelativePath), png);
            int done = 1;
            foreach (int j in copies[i])
            {
                stats[j] = st;
                WriteAtomically(Path.Combine(root, images[j].RelativePath), png);
                done++;
            }
            lock (progressLock)
            {
                written += done;
                options.Progress?.Invoke(written, images.Count);
            }
        });

        var truth = BuildTruth(plan, stats);
        CsvWriter.WriteFile(Path.Combine(root, DatasetLayout.LegendCsv), LegendColumns,
            SyntheticLegend.Rows.Select(r => (IReadOnlyList<string>)[r.Header, r.Code, r.Meaning]));
        CsvWriter.WriteFile(Path.Combine(root, DatasetLayout.ClinicalCsv), ClinicalColumns, plan.Rows.Select(ClinicalFields));
        CsvWriter.WriteFile(Path.Combine(root, TruthCsv), TruthColumns, truth.Select(TruthFields));
        CsvWriter.WriteFile(Path.Combine(root, DatasetLayout.MetadataCsv), MetadataColumns, images.Select(i => MetadataFields(i, options)));

        return new SynthSummary
        {
            Directory = root,
            Patients = plan.Patients,
            Studies = plan.Studies,
            ClinicalRows = plan.Rows.Count,
            Images = truth,
            Elapsed = watch.Elapsed,
        };
    }

    private static byte[] EncodePng(byte[] pixels, int width, int height, PngEncoder encoder)
    {
        using var image = Image.LoadPixelData<L8>(pixels, width, height);
        using var stream = new MemoryStream();
        image.SaveAsPng(stream, encoder);
        return stream.ToArray();
    }

    private static void WriteAtomically(string path, byte[] bytes) => AtomicFile.WriteStream(path, s => s.Write(bytes));

    private static IReadOnlyList<string> MetadataFields(PlannedImage i, SynthOptions o) =>
    [
        i.AnonDicomPath, Invariant(i.Patient), Invariant(i.Study), i.StudyDate, i.Description,
        (i.ImageType == "2D" ? "" : "C-View ") + i.Laterality + " " + i.View,
        i.ImageType, i.Laterality, i.View, "", i.Manufacturer, i.Model, Invariant(o.Height), Invariant(o.Width),
    ];

    private static IReadOnlyList<string> ClinicalFields(ClinicalRow r) =>
    [
        Invariant(r.Patient), Invariant(r.Study), r.StudyDate, r.Description, Invariant(r.FindingNumber), r.Side, r.Assessment,
        r.Density, r.MassShape, r.MassMargin, r.MassDensity, r.CalcFind, r.CalcDistribution, r.Gender, r.Age, r.Race, r.Ethnicity,
    ];

    private static IReadOnlyList<string> TruthFields(SynthImage t) =>
    [
        t.RelativePath, t.AnonDicomPath, Invariant(t.Patient), Invariant(t.Study), t.Laterality, t.View, t.ImageType,
        Invariant(t.ClinicalRow), t.RowRule.ToString(), t.Assessment, t.Birads?.ToString(CultureInfo.InvariantCulture) ?? "",
        t.Density?.ToString(CultureInfo.InvariantCulture) ?? "", Invariant(t.RenderedDensity), t.SkipReason ?? "",
        t.HasMass ? "1" : "0", t.HasCalcification ? "1" : "0", t.HasAsymmetry ? "1" : "0",
        Invariant(t.Pixels.Masses.Count), Invariant(t.Pixels.Specks.Count),
        t.Pixels.TargetCoverage.ToString("0.0000", CultureInfo.InvariantCulture), t.Pixels.DenseFraction.ToString("0.0000", CultureInfo.InvariantCulture),
        Invariant(t.Pixels.BreastPixels), t.Pixels.MeanBreastValue.ToString("0.00", CultureInfo.InvariantCulture),
    ];

    private static string Invariant(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Applies SPEC section 1's row choice and skip rules to every image.</summary>
    private static List<SynthImage> BuildTruth(SynthPlan plan, SynthPixelStats[] stats)
    {
        var rowsByStudy = plan.Rows.Select((r, k) => (Row: r, Index: k)).ToLookup(p => p.Row.Study);
        var truth = new List<SynthImage>(plan.Images.Count);
        for (int i = 0; i < plan.Images.Count; i++)
        {
            var img = plan.Images[i];
            var (rowIndex, rule) = ChooseRow(rowsByStudy[img.Study].ToList(), img.Laterality);
            var row = plan.Rows[rowIndex];
            int birads = Assessments.IndexOf(row.Assessment.Length == 1 ? row.Assessment[0] : '?');
            int? density = row.Density is "1" or "2" or "3" or "4" or "5" ? row.Density[0] - '0' : null;
            string? skip = img.Description.Length == 0 ? "procedure"
                : Reason(img.Description) is null ? "reason"
                : density is null ? "density"
                : birads < 0 ? "assessment"
                : null;
            truth.Add(new SynthImage
            {
                RelativePath = img.RelativePath,
                AnonDicomPath = img.AnonDicomPath,
                Patient = img.Patient,
                Study = img.Study,
                Laterality = img.Laterality,
                View = img.View,
                ImageType = img.ImageType,
                StudyDescription = img.Description,
                ClinicalRow = rowIndex,
                RowRule = rule,
                Assessment = row.Assessment,
                Birads = birads < 0 ? null : birads,
                Density = density,
                RenderedDensity = img.RenderedDensity,
                SkipReason = skip,
                Pixels = stats[i],
            });
        }
        return truth;
    }

    /// <summary>"screening", "diagnostic" or null (SPEC: "screen" anywhere, any case, else "diag").</summary>
    internal static string? Reason(string description) =>
        description.Contains("screen", StringComparison.OrdinalIgnoreCase) ? "screening"
        : description.Contains("diag", StringComparison.OrdinalIgnoreCase) ? "diagnostic"
        : null;

    /// <summary>
    /// SPEC section 1: rows of the study on the image's side; else its bilateral rows; else all its rows.
    /// Among them, BI-RADS by assessment (A0 N1 B2 P3 S4 M5 K6): when max &lt;= 2 and min == 0 the first
    /// arg-min, else the first arg-max; with no valid assessment, the first row.
    /// </summary>
    internal static (int Index, SynthRowRule Rule) ChooseRow(IReadOnlyList<(ClinicalRow Row, int Index)> studyRows, string laterality)
    {
        var subset = studyRows.Where(r => r.Row.Side == laterality).ToList();
        var rule = SynthRowRule.SameSide;
        if (subset.Count == 0)
        {
            subset = studyRows.Where(r => r.Row.Side == "B").ToList();
            rule = SynthRowRule.Bilateral;
        }
        if (subset.Count == 0)
        {
            subset = studyRows.ToList();
            rule = SynthRowRule.AllRows;
        }
        var scored = subset.Select(r => (r.Index, Score: r.Row.Assessment.Length == 1 ? Assessments.IndexOf(r.Row.Assessment[0]) : -1))
            .Where(s => s.Score >= 0).ToList();
        if (scored.Count == 0) return (subset[0].Index, rule);
        int max = scored.Max(s => s.Score), min = scored.Min(s => s.Score);
        int target = max <= 2 && min == 0 ? min : max;
        return (scored.First(s => s.Score == target).Index, rule);
    }
}
