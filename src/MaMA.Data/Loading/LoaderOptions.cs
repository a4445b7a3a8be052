using MaMA.Data.Images.Transforms;
using MaMA.Data.Reports;

namespace MaMA.Data.Loading;

/// <summary>Settings of <see cref="MammoLoader"/>; defaults are the paper's pre-training settings.</summary>
public sealed record LoaderOptions
{
    /// <summary>Image-report pairs per batch (the paper: 36 per GPU).</summary>
    public int BatchSize { get; init; } = 36;

    /// <summary>Seed of the epoch order, the augmentations, the pairing and the meta masking.</summary>
    public ulong Seed { get; init; }

    /// <summary>Training: shuffled order, random crops, inter-side pairing and meta masking. Else evaluation: dataset order, centre crops, view 2 = view 1, unmasked reports.</summary>
    public bool Training { get; init; } = true;

    /// <summary>Probability that view 2 is another image of the same study ("inter-side"), else a second augmentation.</summary>
    public double PairProbability { get; init; } = 0.5;

    /// <summary>Meta-information masking of the training reports (SPEC section 1).</summary>
    public MetaMasking Masking { get; init; } = new();

    /// <summary>Caption length after truncation and padding.</summary>
    public int MaxTokens { get; init; } = 144;

    /// <summary>Batches prepared ahead of the consumer; memory is bounded by (Prefetch + 1) batches.</summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>Threads preparing the samples of one batch.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// First row of each batch this loader decodes (0). With <see cref="RowCount"/>, a data-parallel
    /// rank decodes only its shard [RowStart, RowStart + RowCount) of every global batch: the epoch
    /// order, the batches per epoch and each row's random choices (seeded by its position in the
    /// epoch) are those of the whole batch, so the rows are bit-identical to the whole batch's.
    /// </summary>
    public int RowStart { get; init; }

    /// <summary>Rows of each batch this loader decodes from <see cref="RowStart"/> on; null: to the end of the batch.</summary>
    public int? RowCount { get; init; }

    /// <summary>Drop the last incomplete batch (training) or keep it (evaluation when null).</summary>
    public bool? DropLast { get; init; }

    public MammoTransformOptions Transform { get; init; } = new();
}
