using MaMA.Data.Loading;
using MaMA.Training.Checkpoints;

namespace MaMA.Training.Data;

/// <summary>
/// The record indices of the batches a <see cref="BatchStream{TBatch}"/> over the same loader yields, in the
/// same order and with the same resumable <see cref="Position"/>, without preparing any batch: for
/// training on features computed once (linear probing of a frozen encoder, <c>ProbeFeatureCache</c>).
/// Batch b of an epoch holds the loader's epoch order [b B, b B + B), as <see cref="IEpochLoader{TBatch}.EpochOrder"/> says.
/// </summary>
public sealed class BatchIndexStream
{
    private readonly IEpochLoader<object> _loader;
    private int[]? _order;
    private int _orderEpoch = -1;

    public BatchIndexStream(IEpochLoader<object> loader, DataPosition start)
    {
        ArgumentNullException.ThrowIfNull(loader);
        if (!loader.WholeBatches)
            throw new ArgumentException("BatchIndexStream follows whole batches; this loader takes a rank's rows.", nameof(loader));
        _loader = loader;
        if (loader.BatchesPerEpoch == 0)
            throw new InvalidOperationException($"The training split has {loader.SampleCount} images, fewer than one batch of {loader.BatchSize}.");
        if (start.Epoch < 0 || start.Batch < 0 || start.Batch > loader.BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(start), $"Data position {start} is outside the loader's {loader.BatchesPerEpoch} batches per epoch.");
        Position = start.Batch == loader.BatchesPerEpoch ? new DataPosition(start.Epoch + 1, 0) : start;
    }

    /// <summary>The next batch to be read.</summary>
    public DataPosition Position { get; private set; }

    /// <summary>The record indices of the next batch (indices into the loader's records).</summary>
    public int[] Next()
    {
        if (_orderEpoch != Position.Epoch)
        {
            _order = _loader.EpochOrder(Position.Epoch);
            _orderEpoch = Position.Epoch;
        }
        int size = _loader.BatchSize, start = Position.Batch * size;
        int[] batch = _order.AsSpan(start, Math.Min(size, _order!.Length - start)).ToArray();
        Position = Position.Batch + 1 >= _loader.BatchesPerEpoch ? new DataPosition(Position.Epoch + 1, 0) : Position with { Batch = Position.Batch + 1 };
        return batch;
    }
}
