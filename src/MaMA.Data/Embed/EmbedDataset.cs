using MaMA.Data.Reports;
using MaMA.Data.Splits;
using MaMA.Data.Tables;

namespace MaMA.Data.Embed;

/// <summary>
/// An EMBED-shaped dataset folder read into records (SPEC section 1): the metadata, clinical and
/// legend tables under <c>DIR/tables/</c>, 2D images only, the finding row chosen per image, the
/// structured report built, and images with a missing procedure, reason, density or assessment
/// skipped and counted by reason (<see cref="Summary"/>).
/// </summary>
public sealed class EmbedDataset
{
    private EmbedDataset(string directory, EmbedOptions options, List<EmbedRecord> records, EmbedLoadSummary summary, EmbedLegend legend)
    {
        Directory = directory;
        Options = options;
        Records = records;
        Summary = summary;
        Legend = legend;
    }

    /// <summary>The dataset folder, absolute.</summary>
    public string Directory { get; }

    public EmbedOptions Options { get; }

    /// <summary>Kept images in metadata order; <see cref="EmbedRecord.Index"/> is the position here.</summary>
    public IReadOnlyList<EmbedRecord> Records { get; }

    public EmbedLoadSummary Summary { get; }

    public EmbedLegend Legend { get; }

    /// <summary>The distinct patients of the kept images, in first-seen order.</summary>
    public IReadOnlyList<string> Patients => Records.Select(r => r.Patient).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>Reads <paramref name="directory"/> (see the class summary).</summary>
    public static EmbedDataset Load(string directory, EmbedOptions? options = null)
    {
        options ??= new EmbedOptions();
        string dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: EMBED dataset folder not found.");
        var summary = new EmbedLoadSummary();

        CsvTable legendTable = CsvReader.ReadFile(Resolve(dir, options.LegendCsv), EmbedColumns.LegendRequired);
        summary.AddTable(legendTable);
        var legend = EmbedLegend.FromTable(legendTable);

        CsvTable clinical = CsvReader.ReadFile(Resolve(dir, options.ClinicalCsv), EmbedColumns.ClinicalRequired);
        summary.AddTable(clinical);
        CsvTable metadata = CsvReader.ReadFile(Resolve(dir, options.MetadataCsv), EmbedColumns.MetadataRequired);
        summary.AddTable(metadata);

        // Clinical rows by study, in file order.
        int cStudy = clinical.Column(EmbedColumns.Study), cSide = clinical.Column(EmbedColumns.FindingSide), cAsses = clinical.Column(EmbedColumns.Assessment);
        var byStudy = new Dictionary<string, List<CsvRow>>(StringComparer.Ordinal);
        foreach (CsvRow row in clinical.Rows)
        {
            if (!byStudy.TryGetValue(row[cStudy], out var list)) byStudy[row[cStudy]] = list = new List<CsvRow>();
            list.Add(row);
        }
        var sideCache = new Dictionary<string, (string[] Sides, string[] Asses)>(StringComparer.Ordinal);

        int mPath = metadata.Column(EmbedColumns.Path), mPatient = metadata.Column(EmbedColumns.Patient), mStudy = metadata.Column(EmbedColumns.Study),
            mLat = metadata.Column(EmbedColumns.Laterality), mView = metadata.Column(EmbedColumns.View), mType = metadata.Column(EmbedColumns.ImageType),
            mProc = metadata.Column(EmbedColumns.Procedure);
        int cDen = clinical.Column(EmbedColumns.Density), cAge = clinical.Column(EmbedColumns.Age), cRace = clinical.Column(EmbedColumns.Race),
            cEth = clinical.Column(EmbedColumns.Ethnicity), cShape = clinical.Column(EmbedColumns.MassShape), cMassDen = clinical.Column(EmbedColumns.MassDensity),
            cCalcFind = clinical.Column(EmbedColumns.CalcFind), cCalcDist = clinical.Column(EmbedColumns.CalcDistribution);

        var records = new List<EmbedRecord>();
        var seenPaths = new HashSet<string>(StringComparer.Ordinal);
        summary.MetadataRows = metadata.Rows.Count;
        foreach (CsvRow row in metadata.Rows)
        {
            if (row[mType] != EmbedColumns.TwoD)
            {
                summary.Skip(EmbedLoadSummary.NotTwoD);
                continue;
            }
            string sourcePath = row[mPath];
            if (ReportFields.IsMissing(sourcePath))
            {
                summary.Skip(EmbedLoadSummary.MissingPath);
                continue;
            }
            string study = row[mStudy], patient = row[mPatient];
            if (ReportFields.IsMissing(study))
            {
                summary.Skip(EmbedLoadSummary.MissingStudy);
                continue;
            }
            if (ReportFields.IsMissing(patient))
            {
                summary.Skip(EmbedLoadSummary.MissingPatient);
                continue;
            }
            if (!byStudy.TryGetValue(study, out List<CsvRow>? studyRows))
            {
                summary.Skip(EmbedLoadSummary.NoClinicalRows);
                continue;
            }
            if (!sideCache.TryGetValue(study, out var sa))
                sideCache[study] = sa = (studyRows.Select(r => r[cSide]).ToArray(), studyRows.Select(r => r[cAsses]).ToArray());
            string laterality = row[mLat];
            CsvRow finding = studyRows[FindingSelector.Select(sa.Sides, sa.Asses, laterality, options.FindingRowIndexing)];

            string procedure = row[mProc];
            if (ReportFields.IsMissing(procedure))
            {
                summary.Skip(EmbedLoadSummary.MissingProcedure);
                continue;
            }
            string? reason = ReportVocabulary.ReasonOf(procedure);
            if (reason is null)
            {
                summary.Skip(EmbedLoadSummary.MissingReason);
                continue;
            }
            if (ReportVocabulary.DensityOf(finding[cDen]) is not int density)
            {
                summary.Skip(EmbedLoadSummary.MissingDensity);
                continue;
            }
            if (ReportVocabulary.BiradsOf(finding[cAsses]) is not int birads)
            {
                summary.Skip(EmbedLoadSummary.MissingAssessment);
                continue;
            }

            // A NUL character makes Path.GetFullPath throw ArgumentException: one hostile row
            // must be a counted skip, not the end of the whole load.
            if (sourcePath.Contains('\0'))
            {
                summary.Skip(EmbedLoadSummary.InvalidPath);
                continue;
            }
            string path = ResolveImagePath(dir, sourcePath, options.PathPrefixes);
            if (!seenPaths.Add(path))
            {
                summary.Skip(EmbedLoadSummary.DuplicatePath);
                continue;
            }
            if (options.RequireImageFiles && !File.Exists(path))
            {
                summary.Skip(EmbedLoadSummary.MissingImageFile);
                continue;
            }

            string? massShape = legend.Decode(EmbedColumns.MassShape, finding[cShape]);
            string? massDensity = legend.Decode(EmbedColumns.MassDensity, finding[cMassDen]);
            string? calcShape = legend.Decode(EmbedColumns.CalcFind, finding[cCalcFind]);
            string? calcDistribution = legend.Decode(EmbedColumns.CalcDistribution, finding[cCalcDist]);
            var fields = new ReportFields
            {
                Procedure = procedure,
                Reason = reason,
                Race = ReportFields.OrUnknown(finding[cRace]),
                Ethnicity = ReportFields.NormalizeEthnicity(finding[cEth]),
                Age = ReportFields.NormalizeAge(finding[cAge]),
                ImageType = ReportFields.OrUnknown(row[mType]),
                Side = ReportFields.NormalizeSide(laterality),
                View = ReportFields.OrUnknown(row[mView]),
                Density = density,
                Birads = birads,
                MassShape = massShape is not null && massDensity is not null ? massShape : null,
                MassDensity = massShape is not null && massDensity is not null ? massDensity : null,
                CalcShape = calcShape is not null && calcDistribution is not null ? calcShape : null,
                CalcDistribution = calcShape is not null && calcDistribution is not null ? calcDistribution : null,
            };
            records.Add(new EmbedRecord
            {
                Index = records.Count,
                Path = path,
                SourcePath = sourcePath,
                Study = study,
                Patient = patient,
                Laterality = laterality,
                View = row[mView],
                Birads = birads,
                Density = density,
                Fields = fields,
                Report = ReportBuilder.Build(fields),
                MetadataLine = row.Line,
                ClinicalLine = finding.Line,
            });
        }
        summary.Kept = records.Count;
        return new EmbedDataset(dir, options, records, summary, legend);
    }

    /// <summary>
    /// Applies the first matching prefix rewrite and resolves a relative result against
    /// <paramref name="datasetDir"/>; the result is absolute and normalised.
    /// </summary>
    public static string ResolveImagePath(string datasetDir, string sourcePath, IReadOnlyList<PathPrefix> prefixes)
    {
        string p = sourcePath;
        foreach (PathPrefix prefix in prefixes)
        {
            if (prefix.From.Length > 0 && p.StartsWith(prefix.From, StringComparison.Ordinal))
            {
                p = prefix.To + p[prefix.From.Length..];
                break;
            }
        }
        return Path.GetFullPath(Path.IsPathRooted(p) ? p : Path.Combine(datasetDir, p));
    }

    /// <summary>The kept records of patients assigned to <paramref name="split"/>, in dataset order.</summary>
    public IReadOnlyList<EmbedRecord> InSplit(PatientSplits splits, DataSplit split) =>
        Records.Where(r => splits.SplitOf(r.Patient) == split).ToArray();

    /// <summary>
    /// Inter-side pairs: for each record of <paramref name="records"/> (one split), the positions in
    /// <paramref name="records"/> of the other records of the same study (any side or view), in order.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<int>> PairCandidates(IReadOnlyList<EmbedRecord> records)
    {
        var byStudy = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < records.Count; i++)
        {
            if (!byStudy.TryGetValue(records[i].Study, out var list)) byStudy[records[i].Study] = list = new List<int>();
            list.Add(i);
        }
        var result = new IReadOnlyList<int>[records.Count];
        for (int i = 0; i < records.Count; i++)
            result[i] = byStudy[records[i].Study].Where(j => j != i).ToArray();
        return result;
    }

    /// <summary>
    /// Creates or reads the patient-level split file: <paramref name="splitsPath"/> (default
    /// <c>DIR/splits.csv</c>) is read when it exists, else written from the dataset's patients with
    /// <paramref name="seed"/>. Every patient of the dataset must be in the file.
    /// </summary>
    public PatientSplits LoadOrCreateSplits(string? splitsPath = null, ulong seed = 0)
    {
        string path = splitsPath ?? Path.Combine(Directory, DatasetLayout.SplitsCsv);
        PatientSplits splits = PatientSplits.LoadOrCreate(path, Patients, seed, out _);
        string[] missing = Patients.Where(p => splits.SplitOf(p) is null).ToArray();
        if (missing.Length > 0)
            throw new InvalidDataException($"{path}: the split file has no entry for {missing.Length} patient(s) of the dataset (first: '{missing[0]}'); delete it to make a new one, or pass another file.");
        return splits;
    }

    private static string Resolve(string dir, string path) => Path.IsPathRooted(path) ? path : Path.Combine(dir, path);
}
