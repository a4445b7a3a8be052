using MaMA.Data.Embed;
using MaMA.Data.Images;
using MaMA.Data.Images.Transforms;
using MaMA.Data.Reports;
using MaMA.Data.Text;

namespace MaMA.Data.Loading;

/// <summary>
/// Turns EMBED records into <see cref="MammoBatch"/>es on background threads, ahead of the model.
/// <para>
/// Determinism: every random choice of a sample (crop, pairing, masking) comes from a generator
/// seeded by (Seed, epoch, position in the epoch), and the epoch order from (Seed, epoch), so the
/// batches are identical whatever the number of workers or the timing of threads.
/// </para>
/// <para>
/// Memory: one producer fills batches in order, <see cref="LoaderOptions.Workers"/> threads per
/// batch, into a queue holding at most <see cref="LoaderOptions.Prefetch"/> batches; the producer
/// waits when the consumer falls behind and stops when the consumer stops enumerating.
/// </para>
/// </summary>
public sealed class MammoLoader : IEpochLoader<MammoBatch>
{
    private readonly IReadOnlyList<EmbedRecord> _records;
    private readonly IReadOnlyList<IReadOnlyList<int>> _partners;
    private readonly MaMATokenizer _tokenizer;
    private readonly MammoTransform _transform;
    private readonly Func<string, GreyImage> _readImage;

    /// <param name="records">The records of one split (pairs are searched among them only).</param>
    /// <param name="readImage">Reads an 8-bit grey image by path; default <see cref="ImageReader.ReadGrey8"/>.</param>
    public MammoLoader(IReadOnlyList<EmbedRecord> records, MaMATokenizer tokenizer, LoaderOptions? options = null, Func<string, GreyImage>? readImage = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(tokenizer);
        Options = options ?? new LoaderOptions();
        EpochBatches.Validate(Options);
        if (Options.RowStart < 0 || Options.RowCount < 1 || Options.RowStart + (Options.RowCount ?? 1) > Options.BatchSize)
            throw new ArgumentException($"RowStart {Options.RowStart} and RowCount {Options.RowCount} must pick rows inside a batch of {Options.BatchSize}.");
        _records = records;
        _partners = EmbedDataset.PairCandidates(records);
        _tokenizer = tokenizer;
        _transform = new MammoTransform(Options.Transform);
        _readImage = readImage ?? (path => ImageReader.ReadGrey8(path));
    }

    public LoaderOptions Options { get; }

    public int SampleCount => _records.Count;

    public int BatchesPerEpoch => EpochBatches.PerEpoch(_records.Count, Options);

    int IEpochLoader<MammoBatch>.BatchSize => Options.BatchSize;

    bool IEpochLoader<MammoBatch>.WholeBatches => Options.RowStart == 0 && Options.RowCount is null;

    /// <summary>Record order of an epoch: a seeded shuffle when training, dataset order otherwise.</summary>
    public int[] EpochOrder(int epoch) => EpochBatches.Order(_records.Count, Options, epoch);

    /// <summary>
    /// The batches of one epoch, from <paramref name="startBatch"/> on (to resume mid-epoch),
    /// prepared in the background. Errors of the workers surface here, naming the image.
    /// </summary>
    public IEnumerable<MammoBatch> Epoch(int epoch, int startBatch = 0, CancellationToken cancellation = default) =>
        EpochBatches.Epoch(_records.Count, Options, epoch, startBatch, (order, b) => BuildBatch(order, epoch, b), cancellation);

    /// <summary>
    /// Batch <paramref name="b"/> of an epoch whose record order is <paramref name="order"/>: its rows
    /// [RowStart, RowStart + RowCount), or all of them.
    /// </summary>
    internal MammoBatch BuildBatch(int[] order, int epoch, int b)
    {
        int start = b * Options.BatchSize;
        int count = Math.Min(Options.BatchSize, order.Length - start);
        int first = Math.Min(Options.RowStart, count);
        int rows = Math.Min(Options.RowCount ?? count, count - first);
        int side = Options.Transform.CropSize;
        var batch = new MammoBatch(rows, side, Options.MaxTokens);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.Workers };
        // Position start + first + i in the epoch: the same record and random stream as in the whole batch.
        Parallel.For(0, rows, parallel, i => FillSample(batch, i, order[start + first + i], epoch, start + first + i));
        return batch;
    }

    private void FillSample(MammoBatch batch, int slot, int recordIndex, int epoch, int position)
    {
        EmbedRecord record = _records[recordIndex];
        int pixels = _transform.OutputLength;
        Span<float> view1 = batch.View1.AsSpan(slot * pixels, pixels);
        Span<float> view2 = batch.View2.AsSpan(slot * pixels, pixels);
        GreyImage image = _readImage(record.Path);
        int partner = recordIndex;
        StructuredReport report;
        if (Options.Training)
        {
            // One seeded stream per (seed, epoch, position): independent of threads and workers.
            Random rng = EpochBatches.SampleRandom(Options.Seed, epoch, position);
            _transform.Train(image, rng, view1);
            IReadOnlyList<int> candidates = _partners[recordIndex];
            if (candidates.Count > 0 && rng.NextDouble() < Options.PairProbability)
            {
                partner = candidates[rng.Next(candidates.Count)];
                _transform.Train(_readImage(_records[partner].Path), rng, view2);
            }
            else
            {
                _transform.Train(image, rng, view2);
            }
            report = Options.Masking.Build(record.Fields, record.Index, epoch);
        }
        else
        {
            _transform.Eval(image, view1);
            view1.CopyTo(view2);
            report = record.Report;
        }

        EncodedCaption caption = _tokenizer.EncodeCaption(report.Text, Options.MaxTokens);
        caption.Ids.CopyTo(batch.TokenIds.AsSpan(slot * Options.MaxTokens));
        caption.AttentionMask.CopyTo(batch.AttentionMask.AsSpan(slot * Options.MaxTokens));
        batch.SentencePositions[slot] = caption.SepPositions;
        batch.Birads[slot] = record.Birads;
        batch.Density[slot] = record.DensityLabel ?? -1;
        batch.RecordIndices[slot] = recordIndex;
        batch.PartnerIndices[slot] = partner;
        batch.Reports[slot] = report.Text;
    }
}
