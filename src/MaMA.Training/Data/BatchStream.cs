using MaMA.Data.Loading;
using MaMA.Training.Checkpoints;

namespace MaMA.Training.Data;

/// <summary>
/// An endless stream of training micro-batches over epochs 0, 1, 2, ... of a
/// <see cref="MammoLoader"/>, with a resumable position: <see cref="Position"/> is the next batch
/// to be returned, and a stream started at a saved position yields exactly the batches an
/// uninterrupted run would have (the loader's batches are functions of seed, epoch and position).
/// </summary>
public sealed class BatchStream : IDisposable
{
    private readonly MammoLoader _loader;
    private IEnumerator<MammoBatch>? _current;

    public BatchStream(MammoLoader loader, DataPosition start)
    {
        ArgumentNullException.ThrowIfNull(loader);
        _loader = loader;
        if (loader.BatchesPerEpoch == 0)
            throw new InvalidOperationException($"The training split has {loader.SampleCount} images, fewer than one micro-batch of {loader.Options.BatchSize}: lower batch.micro_batch or use more data.");
        if (start.Epoch < 0 || start.Batch < 0 || start.Batch > loader.BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(start), $"Data position {start} is outside the loader's {loader.BatchesPerEpoch} batches per epoch.");
        Position = start.Batch == loader.BatchesPerEpoch ? new DataPosition(start.Epoch + 1, 0) : start;
    }

    /// <summary>The next batch to be read.</summary>
    public DataPosition Position { get; private set; }

    public MammoBatch Next()
    {
        _current ??= _loader.Epoch(Position.Epoch, Position.Batch).GetEnumerator();
        if (!_current.MoveNext()) throw new InvalidOperationException($"The data loader ended epoch {Position.Epoch} before batch {Position.Batch}.");
        MammoBatch batch = _current.Current;
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
