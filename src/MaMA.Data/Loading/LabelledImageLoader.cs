using MaMA.Data.Images;
using MaMA.Data.Images.Transforms;

namespace MaMA.Data.Loading;

/// <summary>
/// Turns labelled images into <see cref="ImageBatch"/>es on background threads: the loader of
/// linear probing and fine-tuning, for any dataset (EMBED BI-RADS and density, RSNA-Mammo cancer).
/// <para>
/// It shares <see cref="MammoLoader"/>'s epoch order, per-sample random streams and prefetching
/// (<see cref="EpochBatches"/>), and its crops are that loader's first view: with the same records,
/// seed and transform, image i of a batch has bit for bit the pixels of <see cref="MammoBatch.View1"/>.
/// Of <see cref="LoaderOptions"/> it reads <c>BatchSize</c>, <c>Seed</c>, <c>Training</c>,
/// <c>Prefetch</c>, <c>Workers</c>, <c>DropLast</c> and <c>Transform</c>; there are no reports,
/// second views or rank shards.
/// </para>
/// </summary>
public sealed class LabelledImageLoader : IEpochLoader<ImageBatch>
{
    private readonly IReadOnlyList<LabelledImage> _records;
    private readonly MammoTransform _transform;
    private readonly Func<string, GreyImage> _readImage;

    /// <param name="readImage">Reads an 8-bit grey image by path; default <see cref="ImageReader.ReadGrey8"/>.</param>
    public LabelledImageLoader(IReadOnlyList<LabelledImage> records, LoaderOptions? options = null, Func<string, GreyImage>? readImage = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        Options = options ?? new LoaderOptions();
        EpochBatches.Validate(Options);
        if (Options.RowStart != 0 || Options.RowCount is not null) throw new ArgumentException("LabelledImageLoader decodes whole batches; RowStart and RowCount are for MammoLoader's ranks.");
        _records = records;
        _transform = new MammoTransform(Options.Transform);
        _readImage = readImage ?? (path => ImageReader.ReadGrey8(path));
    }

    public LoaderOptions Options { get; }

    public int SampleCount => _records.Count;

    public int BatchSize => Options.BatchSize;

    public bool WholeBatches => true;

    public int BatchesPerEpoch => EpochBatches.PerEpoch(_records.Count, Options);

    /// <summary>Record order of an epoch: a seeded shuffle when training, dataset order otherwise.</summary>
    public int[] EpochOrder(int epoch) => EpochBatches.Order(_records.Count, Options, epoch);

    /// <summary>
    /// The batches of one epoch, from <paramref name="startBatch"/> on, prepared in the background.
    /// An image that cannot be read ends the epoch with the reader's exception, naming the file.
    /// </summary>
    public IEnumerable<ImageBatch> Epoch(int epoch, int startBatch = 0, CancellationToken cancellation = default) =>
        EpochBatches.Epoch(_records.Count, Options, epoch, startBatch, (order, b) => BuildBatch(order, epoch, b), cancellation);

    private ImageBatch BuildBatch(int[] order, int epoch, int b)
    {
        int start = b * Options.BatchSize;
        int count = Math.Min(Options.BatchSize, order.Length - start);
        var batch = new ImageBatch(count, Options.Transform.CropSize);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.Workers };
        Parallel.For(0, count, parallel, i => FillSample(batch, i, order[start + i], epoch, start + i));
        return batch;
    }

    private void FillSample(ImageBatch batch, int slot, int recordIndex, int epoch, int position)
    {
        LabelledImage record = _records[recordIndex];
        int pixels = _transform.OutputLength;
        Span<float> destination = batch.Pixels.AsSpan(slot * pixels, pixels);
        GreyImage image = _readImage(record.Path);
        // MammoLoader's first view: the same stream, drawn first.
        if (Options.Training) _transform.Train(image, EpochBatches.SampleRandom(Options.Seed, epoch, position), destination);
        else _transform.Eval(image, destination);
        batch.Labels[slot] = record.Label;
        batch.RecordIndices[slot] = recordIndex;
    }
}
