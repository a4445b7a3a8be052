using System.Globalization;
using MaMA.Data.Labels;

namespace MaMA.Training.Probing;

/// <summary>
/// Linear probing and fine-tuning (SPEC section 7): Linear(C -> classes) on the ViT's pooled
/// feature (mean of x_prenorm over all tokens), SGD with momentum 0.9, lr 5e-4, weight decay 1e-3,
/// 100 warm-up steps to 8000 with a cosine down to 1e-5, class-balanced sampling of the training
/// images, evaluation on a class-balanced subset of EMBED's test split (RSNA: the whole test split,
/// <see cref="ClassifierData.FromRsna"/>). The defaults are the paper's, except the batch, which the
/// paper does not give (the published scripts: 36 per GPU on 2 GPUs).
/// </summary>
public sealed record ClassifierSettings
{
    /// <summary>"tiny", "paper", a MaMA model directory, or a pre-training run folder (its <c>final/</c> model).</summary>
    public string Model { get; init; } = "tiny";

    /// <summary>
    /// An EMBED-shaped folder, or for <see cref="DownstreamTask.Rsna"/> an RSNA-Mammo folder (required
    /// there); null uses the synthetic EMBED dataset in <c>OUT/synthetic</c>.
    /// </summary>
    public string? Data { get; init; }

    public DownstreamTask Task { get; init; } = DownstreamTask.Density;

    /// <summary>Share of the training split used (1%, 10%, 100% in the paper), drawn by seed.</summary>
    public double Fraction { get; init; } = 1.0;

    /// <summary>False: linear probing (frozen ViT). True: full fine-tuning (ViT trainable).</summary>
    public bool FineTune { get; init; }

    public long Steps { get; init; } = 8000;

    public long WarmupSteps { get; init; } = 100;

    public double Lr { get; init; } = 5e-4;

    public double MinLr { get; init; } = 1e-5;

    public double WeightDecay { get; init; } = 1e-3;

    public double Momentum { get; init; } = 0.9;

    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// Smallest crop area (share of the image) of the training images' RandomResizedCrop; 0.08 is the
    /// pre-training transform's. 1 trains on whole images (the evaluation view): small findings such
    /// as masses then stay in every training crop, so the label always matches what the image shows.
    /// </summary>
    public double CropScaleMin { get; init; } = 0.08;

    public ulong Seed { get; init; }

    /// <summary>
    /// Seed of the patient split: of <c>DATA/splits.csv</c> when an EMBED folder has none yet, and of
    /// RSNA-Mammo's in-memory split (the one <c>mama zeroshot --split-seed</c> draws). Apart from
    /// <see cref="Seed"/>, so runs with several seeds are scored on the same test images.
    /// </summary>
    public ulong SplitSeed { get; init; }

    public int Workers { get; init; } = 4;

    /// <summary>A metrics line every this many steps.</summary>
    public int LogEvery { get; init; } = 50;

    /// <summary>A checkpoint (trained weights, SGD momentum, data position) every this many steps, in <c>OUT/checkpoints/</c>.</summary>
    public int CheckpointEvery { get; init; } = 1000;

    /// <summary>Newest checkpoints kept.</summary>
    public int KeepLast { get; init; } = 2;

    /// <summary>Continue from the newest good checkpoint in the output folder.</summary>
    public bool Resume { get; init; }

    public int SyntheticStudies { get; init; } = 24;

    public int SyntheticWidth { get; init; } = 128;

    /// <summary>
    /// The settings that decide what a run computes, by CLI option name, as its checkpoints record
    /// them (<see cref="Checkpoints.TrainingCheckpoint.Extra"/>, keys prefixed <see cref="RecordedPrefix"/>):
    /// resuming with other values would continue a run's data position and schedule under another
    /// setup and mix the two in one result. The model is checked apart, by the frozen base's
    /// checksums; workers, logging and the checkpoint cadence may change on a resume.
    /// </summary>
    public IReadOnlyDictionary<string, string> RunDefining()
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string L(long v) => v.ToString(CultureInfo.InvariantCulture);
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [RecordedPrefix + "data"] = Data ?? "(synthetic, or the pre-training run's)",
            [RecordedPrefix + "task"] = Task.Name(),
            [RecordedPrefix + "fraction"] = F(Fraction),
            [RecordedPrefix + "finetune"] = FineTune ? "true" : "false",
            [RecordedPrefix + "steps"] = L(Steps),
            [RecordedPrefix + "warmup"] = L(WarmupSteps),
            [RecordedPrefix + "lr"] = F(Lr),
            [RecordedPrefix + "min-lr"] = F(MinLr),
            [RecordedPrefix + "weight-decay"] = F(WeightDecay),
            [RecordedPrefix + "momentum"] = F(Momentum),
            [RecordedPrefix + "batch"] = L(BatchSize),
            [RecordedPrefix + "crop-scale-min"] = F(CropScaleMin),
            [RecordedPrefix + "seed"] = Seed.ToString(CultureInfo.InvariantCulture),
            [RecordedPrefix + "split-seed"] = SplitSeed.ToString(CultureInfo.InvariantCulture),
            [RecordedPrefix + "synthetic-studies"] = L(SyntheticStudies),
            [RecordedPrefix + "synthetic-width"] = L(SyntheticWidth),
        };
    }

    /// <summary>The prefix of the <see cref="RunDefining"/> keys in a checkpoint's extra values.</summary>
    public const string RecordedPrefix = "setting.";

    /// <summary>
    /// "option: recorded -> now" for each run-defining setting whose value differs from what a
    /// checkpoint recorded; null when the checkpoint recorded none (written before they were kept).
    /// </summary>
    public IReadOnlyList<string>? ChangedSince(IReadOnlyDictionary<string, string> recorded)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        if (!recorded.Keys.Any(k => k.StartsWith(RecordedPrefix, StringComparison.Ordinal))) return null;
        var changes = new List<string>();
        foreach ((string key, string now) in RunDefining())
        {
            string before = recorded.TryGetValue(key, out string? v) ? v : "(not recorded)";
            if (before != now) changes.Add($"--{key[RecordedPrefix.Length..]} {before} -> {now}");
        }
        return changes;
    }

    public int Classes => ClassNames.Count;

    public IReadOnlyList<string> ClassNames => Task switch
    {
        DownstreamTask.Birads => ["A", "N", "B", "P", "S", "M", "K"],
        DownstreamTask.Density => ["1", "2", "3", "4"],
        _ => ["negative", "cancer"],
    };

    public void Validate()
    {
        if (Task == DownstreamTask.Rsna && Data is null)
            throw new ArgumentException("the rsna task needs --data: an RSNA-Mammo folder (train.csv and train_images/{patient_id}/{image_id}.png, docs/data.md).");
        if (!(Fraction > 0.0 && Fraction <= 1.0)) throw new ArgumentException($"fraction must be in (0, 1], not {Fraction}.");
        if (Steps < 1) throw new ArgumentException($"steps must be at least 1, not {Steps}.");
        if (WarmupSteps < 0 || WarmupSteps > Steps) throw new ArgumentException($"warm-up steps must be in [0, {Steps}], not {WarmupSteps}.");
        if (!(Lr > 0.0) || !(MinLr >= 0.0 && MinLr <= Lr)) throw new ArgumentException($"need lr > 0 and 0 <= min lr <= lr, got {Lr} and {MinLr}.");
        if (!(WeightDecay >= 0.0) || !(Momentum >= 0.0)) throw new ArgumentException("weight decay and momentum must be >= 0.");
        if (!(CropScaleMin > 0.0 && CropScaleMin <= 1.0)) throw new ArgumentException($"crop scale min must be in (0, 1], not {CropScaleMin}.");
        if (BatchSize < 1 || Workers < 1 || LogEvery < 1) throw new ArgumentException("batch size, workers and log interval must be at least 1.");
        if (CheckpointEvery < 1 || KeepLast < 1) throw new ArgumentException($"checkpoint interval and kept checkpoints must be at least 1, got {CheckpointEvery} and {KeepLast}.");
    }
}
