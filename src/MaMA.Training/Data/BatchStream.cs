using MaMA.Data.Loading;
using MaMA.Training.Checkpoints;

namespace MaMA.Training.Data;

/// <summary>
/// An endless stream of training batches over epochs 0, 1, 2, ... of a loader (pre-training's
/// <see cref="MammoLoader"/>, probing's <see cref="LabelledImageLoader"/>), with a resumable
/// position: <see cref="Position"/> is the next batch to be returned, and a stream started at a saved
/// position yields exactly the batches an uninterrupted run would have (the loader's batches are
/// functions of seed, epoch and position).
/// </summary>
/// <typeparam name="TBatch">The loader's batch type.</typeparam>
public sealed class BatchStream<TBatch> : IDisposable
{
    private readonly IEpochLoader<TBatch> _loader;
    private IEnumerator<TBatch>? _current;

    /// <param name="remedy">What to change when the split holds less than one batch (named in the error).</param>
    public BatchStream(IEpochLoader<TBatch> loader, DataPosition start, string remedy = "lower the batch size or use more data")
    {
        ArgumentNullException.ThrowIfNull(loader);
        _loader = loader;
        if (loader.BatchesPerEpoch == 0)
            throw new InvalidOperationException($"The training split has {loader.SampleCount} images, fewer than one batch of {loader.BatchSize}: {remedy}.");
        if (start.Epoch < 0 || start.Batch < 0 || start.Batch > loader.BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(start), $"Data position {start} is outside the loader's {loader.BatchesPerEpoch} batches per epoch.");
        Position = start.Batch == loader.BatchesPerEpoch ? new DataPosition(start.Epoch + 1, 0) : start;
    }

    /// <summary>The next batch to be read.</summary>
    public DataPosition Position { get; private set; }

    public TBatch Next()
    {
        _current ??= _loader.Epoch(Position.Epoch, Position.Batch).GetEnumerator();
        if (!_current.MoveNext()) throw new InvalidOperationException($"The data loader ended epoch {Position.Epoch} before batch {Position.Batch}.");
        TBatch batch = _current.Current;
        Position = Position.Batch + 1 >= _loader.BatchesPerEpoch ? new DataPosition(Position.Epoch + 1, 0) : Position with { Batch = Position.Batch + 1 };
        if (Position.Batch == 0)
        {
            // The epoch is complete: release its producer now, the next call opens the next epoch.
            _current.Dispose();
            _current = null;
        }
        return batch;
    }

    public void Dispose() => _current?.Dispose();
}
