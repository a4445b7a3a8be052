namespace MaMA.Training.Checkpoints;

/// <summary>
/// <c>state.json</c> of a checkpoint folder: everything besides the weights and optimizer moments
/// that a resumed run needs to continue exactly where this one stopped.
/// </summary>
public sealed record TrainingCheckpoint
{
    /// <summary>2: the model file holds only what training changes, <see cref="FrozenBase"/> names the rest. 1: the whole state dict.</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>The oldest format this engine still reads (format 1 checkpoints load as whole state dicts).</summary>
    public const int OldestReadableFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Optimizer steps completed (skipped non-finite steps included); the next step has this index.</summary>
    public required long Step { get; init; }

    /// <summary>Where the data stream continues: the epoch and the micro-batch within it.</summary>
    public required DataPosition Data { get; init; }

    /// <summary>Learning rate of the last applied step (informational; the schedule recomputes it from Step).</summary>
    public double LearningRate { get; init; }

    public long SkippedTotal { get; init; }

    public int SkippedInARow { get; init; }

    /// <summary>
    /// Random state: each stochastic module's stream position (LoRA dropout), by module name. The
    /// data randomness is a function of (seed, epoch, position) and needs no state.
    /// </summary>
    public IReadOnlyDictionary<string, ulong> RandomStreams { get; init; } = new Dictionary<string, ulong>();

    /// <summary>SHA-256 (lower-case hex) of every other file of the folder, by file name.</summary>
    public IReadOnlyDictionary<string, string> Sha256 { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The frozen tensors the model file leaves out and what they were (format 2); null when the
    /// model file holds the whole state dict.
    /// </summary>
    public FrozenBase? FrozenBase { get; init; }

    /// <summary>Free-form values the trainer wants back (seed, config hash, ...).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();
}

/// <summary>The next micro-batch to read: batch <see cref="Batch"/> of epoch <see cref="Epoch"/>.</summary>
public sealed record DataPosition(int Epoch, int Batch);
