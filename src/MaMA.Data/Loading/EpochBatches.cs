using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using MaMA.Data.Images;
using MaMA.Data.Splits;

namespace MaMA.Data.Loading;

/// <summary>
/// What every loader of this folder shares, so that <see cref="MammoLoader"/> (image-report pairs)
/// and <see cref="LabelledImageLoader"/> (images and classes) draw the same order, the same crops
/// and prepare batches the same way:
/// <list type="bullet">
/// <item>the epoch order: a shuffle seeded by (seed, epoch) when training, dataset order otherwise;</item>
/// <item>one random stream per sample, seeded by (seed, epoch, position in the epoch), so a batch
/// does not depend on the number of workers or the timing of threads;</item>
/// <item>a background producer that fills batches in order into a bounded queue.</item>
/// </list>
/// </summary>
internal static class EpochBatches
{
    /// <summary>The options every loader reads: a batch, the prefetch queue and the workers need at least one each.</summary>
    public static void Validate(LoaderOptions options)
    {
        if (options.BatchSize < 1) throw new ArgumentException($"BatchSize must be at least 1, not {options.BatchSize}.");
        if (options.Prefetch < 1) throw new ArgumentException($"Prefetch must be at least 1, not {options.Prefetch}.");
        if (options.Workers < 1) throw new ArgumentException($"Workers must be at least 1, not {options.Workers}.");
    }

    /// <summary>Record order of an epoch of <paramref name="count"/> records: a seeded shuffle when training, dataset order otherwise.</summary>
    public static int[] Order(int count, LoaderOptions options, int epoch)
    {
        int[] order = Enumerable.Range(0, count).ToArray();
        if (options.Training) new SeededRandom(SeededRandom.Mix(options.Seed ^ SeededRandom.Mix((ulong)epoch + 1))).Shuffle(order);
        return order;
    }

    /// <summary>Batches of an epoch: the last incomplete one is dropped (training, unless DropLast says otherwise) or kept.</summary>
    public static int PerEpoch(int count, LoaderOptions options) =>
        (options.DropLast ?? options.Training) ? count / options.BatchSize : (count + options.BatchSize - 1) / options.BatchSize;

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/> of <paramref name="count"/> records from
    /// <paramref name="startBatch"/> on (to resume mid-epoch): <paramref name="build"/>(order, b)
    /// makes batch b, in the background (<see cref="Prefetched{T}"/>).
    /// </summary>
    public static IEnumerable<T> Epoch<T>(int count, LoaderOptions options, int epoch, int startBatch, Func<int[], int, T> build, CancellationToken cancellation)
    {
        int[] order = Order(count, options, epoch);
        int batches = PerEpoch(count, options);
        if (startBatch < 0 || startBatch > batches) throw new ArgumentOutOfRangeException(nameof(startBatch), $"Batch {startBatch} is outside the epoch's {batches} batches.");
        return Prefetched(startBatch, batches, options.Prefetch, b => build(order, b), cancellation);
    }

    /// <summary>The random stream of the sample at <paramref name="position"/> of epoch <paramref name="epoch"/>.</summary>
    public static Random SampleRandom(ulong seed, int epoch, int position) =>
        new(unchecked((int)SeededRandom.Mix(seed ^ SeededRandom.Mix(((ulong)epoch << 32) | (uint)position))));

    /// <summary>
    /// Batches [<paramref name="startBatch"/>, <paramref name="batches"/>) built by
    /// <paramref name="build"/> on a background thread, at most <paramref name="prefetch"/> ahead of
    /// the consumer. The producer stops when the consumer stops enumerating. A sample's error
    /// surfaces here as the reader's own exception (naming the image), not wrapped by Parallel.For.
    /// </summary>
    public static IEnumerable<T> Prefetched<T>(int startBatch, int batches, int prefetch, Func<int, T> build, CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using var queue = new BlockingCollection<T>(prefetch);
        Exception? failure = null;
        Task producer = Task.Run(() =>
        {
            try
            {
                for (int b = startBatch; b < batches && !stop.IsCancellationRequested; b++)
                    queue.Add(build(b), stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        try
        {
            foreach (T batch in queue.GetConsumingEnumerable(cancellation))
                yield return batch;
            producer.Wait(cancellation);
            if (failure is not null)
            {
                Exception cause = failure is AggregateException wrapped ? wrapped.Flatten().InnerExceptions[0] : failure;
                if (cause is ImageReadException or InvalidDataException or IOException) ExceptionDispatchInfo.Throw(cause);
                throw new InvalidOperationException("Batch preparation failed: " + cause.Message, cause);
            }
        }
        finally
        {
            stop.Cancel();
            try
            {
                producer.Wait(TimeSpan.FromSeconds(30));
            }
            catch (AggregateException)
            {
            }
        }
    }
}
