using MaMA.Data.Embed;
using MaMA.Data.Labels;
using MaMA.Data.Loading;
using MaMA.Data.Rsna;
using MaMA.Data.Splits;
using MaMA.Training.Data;

namespace MaMA.Training.Probing;

/// <summary>
/// The labelled images a classifier trains and is scored on: the labelled images of the training
/// split, and the test images (already the class-balanced subset where the task evaluates on one).
/// </summary>
/// <param name="Directory">The dataset folder.</param>
/// <param name="Train">The training split's labelled images, in dataset order.</param>
/// <param name="Test">The images the classifier is scored on.</param>
/// <param name="TestDescription">How <paramref name="Test"/> was chosen, for the run's log.</param>
public sealed record ClassifierData(string Directory, IReadOnlyList<LabelledImage> Train, IReadOnlyList<LabelledImage> Test, string TestDescription)
{
    /// <summary>
    /// EMBED BI-RADS or density: the split's images with that label; the test images are the
    /// class-balanced subset of the test split drawn by <paramref name="seed"/> (the published
    /// evaluation's <c>--balanced_test</c>).
    /// </summary>
    public static ClassifierData FromEmbed(TrainingData data, DownstreamTask task, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!task.IsEmbed()) throw new ArgumentException($"{task.Name()} is not an EMBED task: use FromRsna.", nameof(task));
        Func<EmbedRecord, int?> label = r => task.EmbedLabel(r);
        static List<LabelledImage> Labelled(IEnumerable<EmbedRecord> records, Func<EmbedRecord, int?> label) =>
            records.Where(r => label(r) is not null).Select(r => new LabelledImage(r.Path, label(r)!.Value)).ToList();
        List<LabelledImage> test = Labelled(data.Test, label);
        IReadOnlyList<LabelledImage> balanced = BalancedSubset.Select(test, r => r.Label, seed);
        return new ClassifierData(data.Directory, Labelled(data.Train, label), balanced,
            $"the class-balanced subset of the test split ({balanced.Count} of {test.Count} labelled images)");
    }

    /// <summary>
    /// RSNA-Mammo cancer: the images of <c>train.csv</c> that were found, split 70/10/20 by patient
    /// with <paramref name="splitSeed"/> (<see cref="RsnaDataset.InSplit"/>), as
    /// <c>mama zeroshot --task rsna --split test --split-seed S</c> splits them, so both commands score
    /// the same test images. The test images are the whole test split, as the published RSNA probing
    /// scores its held-out set (about 2% cancer, so balanced accuracy and AUC are the measures). The
    /// split is the engine's: the published code used fixed train and test files that RSNA does not ship.
    /// </summary>
    public static ClassifierData FromRsna(string directory, ulong splitSeed, Action<string>? say = null)
    {
        RsnaDataset data = RsnaDataset.Load(directory);
        if (data.SkippedSummary() is { Length: > 0 } skipped) say?.Invoke("warning: " + skipped);
        List<LabelledImage> In(DataSplit split) => data.InSplit(split, splitSeed).Select(r => new LabelledImage(r.Path, r.Cancer)).ToList();
        List<LabelledImage> test = In(DataSplit.Test);
        return new ClassifierData(data.Directory, In(DataSplit.Train), test,
            $"the test split of a patient-level 70/10/20 split with split seed {splitSeed} ({test.Count} images, {test.Count(r => r.Label == 1)} with cancer)");
    }
}
