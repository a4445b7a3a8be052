using MaMA.Data.Embed;
using MaMA.Data.Labels;
using MaMA.Data.Rsna;
using MaMA.Data.Splits;

namespace MaMA.Evaluation.ZeroShot;

/// <summary>The images a zero-shot run classifies and a one-line description of how they were chosen.</summary>
public sealed record ZeroShotSelection(IReadOnlyList<ZeroShotSample> Samples, string Description)
{
    /// <summary>
    /// EMBED (BI-RADS or density): the kept records of <paramref name="split"/> (all records when
    /// null) under the dataset's patient split file (<c>DIR/splits.csv</c>, created with
    /// <paramref name="splitSeed"/> on first use, as every command does), those with a label for the
    /// task (density 5, "normal male dense", is not a class), then with <paramref name="balanced"/>
    /// the class-balanced subset (<see cref="BalancedSubset"/>, seeded by <paramref name="seed"/>;
    /// the paper evaluates on it).
    /// </summary>
    public static ZeroShotSelection FromEmbed(string directory, DownstreamTask task, DataSplit? split, bool balanced, ulong seed = 0, string? splitsPath = null, ulong splitSeed = 0)
    {
        if (!task.IsEmbed()) throw new ArgumentException("the RSNA task reads an RSNA-Mammo folder; use FromRsna.", nameof(task));
        EmbedDataset data = EmbedDataset.Load(directory);
        IReadOnlyList<EmbedRecord> records = split is { } s ? data.InSplit(data.LoadOrCreateSplits(splitsPath, splitSeed), s) : data.Records;
        Func<EmbedRecord, int?> label = r => task.EmbedLabel(r);
        List<EmbedRecord> labelled = records.Where(r => label(r) is not null).ToList();
        IReadOnlyList<EmbedRecord> chosen = balanced ? BalancedSubset.Select(labelled, label, seed) : labelled;
        var samples = chosen.Select(r => new ZeroShotSample(r.Path, r.Report.Base, label(r)!.Value)).ToArray();
        return new ZeroShotSelection(samples, Describe("EMBED", data.Directory, split, labelled.Count, balanced, samples.Length, seed));
    }

    /// <summary>
    /// RSNA-Mammo (cancer): the readable rows of <c>train.csv</c>; with <paramref name="split"/> the
    /// patient-level 70/10/20 split drawn from <paramref name="splitSeed"/> (<see cref="RsnaDataset.InSplit"/>,
    /// the split <c>mama probe --task rsna</c> uses), then optionally the class-balanced subset drawn
    /// from <paramref name="seed"/>. Rows left out (missing images, bad labels) are counted in the description.
    /// </summary>
    public static ZeroShotSelection FromRsna(string directory, DataSplit? split, bool balanced, ulong seed = 0, ulong splitSeed = 0)
    {
        RsnaDataset data = RsnaDataset.Load(directory);
        IReadOnlyList<RsnaRecord> records = split is { } s ? data.InSplit(s, splitSeed) : data.Records;
        int available = records.Count;
        IReadOnlyList<RsnaRecord> chosen = balanced ? BalancedSubset.Select(records, r => r.Cancer, seed) : records;
        var samples = chosen.Select(r => new ZeroShotSample(r.Path, "", r.Cancer)).ToArray();
        string skipped = data.SkippedSummary();
        return new ZeroShotSelection(samples, Describe("RSNA-Mammo", data.Directory, split, available, balanced, samples.Length, seed)
                                              + (skipped.Length > 0 ? $" ({skipped})" : ""));
    }

    private static string Describe(string kind, string dir, DataSplit? split, int labelled, bool balanced, int count, ulong seed) =>
        $"{kind} {dir}, {(split is { } s ? $"split {s.Name()}" : "all splits")}: {labelled} labelled images"
        + (balanced ? $", class-balanced subset of {count} (seed {seed})" : "");
}
