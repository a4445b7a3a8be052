namespace MaMA.Data.Loading;

/// <summary>
/// A loader that serves a split as numbered epochs of numbered batches, each a function of (seed,
/// epoch, batch): what a resumable batch stream needs (MaMA.Training's <c>BatchStream</c>,
/// <c>BatchIndexStream</c>). <see cref="MammoLoader"/> serves image-report pairs,
/// <see cref="LabelledImageLoader"/> images with their classes.
/// </summary>
/// <typeparam name="TBatch">The batch type.</typeparam>
public interface IEpochLoader<out TBatch>
{
    /// <summary>Records of the split.</summary>
    int SampleCount { get; }

    /// <summary>Records per batch (the last batch of an epoch may hold fewer when it is kept).</summary>
    int BatchSize { get; }

    int BatchesPerEpoch { get; }

    /// <summary>True when each batch holds all of its rows; false when the loader decodes one rank's rows of each batch.</summary>
    bool WholeBatches { get; }

    /// <summary>Record order of an epoch: batch b holds positions [b BatchSize, (b + 1) BatchSize) of it.</summary>
    int[] EpochOrder(int epoch);

    /// <summary>The batches of epoch <paramref name="epoch"/> from <paramref name="startBatch"/> on, prepared in the background.</summary>
    IEnumerable<TBatch> Epoch(int epoch, int startBatch = 0, CancellationToken cancellation = default);
}
