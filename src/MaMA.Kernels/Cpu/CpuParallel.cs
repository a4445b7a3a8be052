using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Splits [0, count) into fixed-size chunks run across cores (inline when there is only one).
/// An out-of-memory error in a work item (<see cref="IDeviceOutOfMemory"/>, e.g. a kernel's
/// scratch from <see cref="ScratchMemory"/>) leaves every helper here as itself, not wrapped in an
/// <see cref="AggregateException"/>; kernels that call Parallel.For directly do the same with
/// <see cref="IsOutOfMemory"/> and <see cref="ThrowOutOfMemory"/>.
/// </summary>
public static class CpuParallel
{
    /// <summary>
    /// True when every exception inside <paramref name="e"/> (nested aggregates flattened) is the
    /// engine's out-of-memory error: then the first of them can stand for the whole failure.
    /// </summary>
    public static bool IsOutOfMemory(AggregateException e)
    {
        var inner = e.Flatten().InnerExceptions;
        if (inner.Count == 0) return false;
        foreach (Exception x in inner)
            if (x is not IDeviceOutOfMemory) return false;
        return true;
    }

    /// <summary>Rethrows the first out-of-memory error inside <paramref name="e"/> (its own stack trace kept); use after <see cref="IsOutOfMemory"/>.</summary>
    [DoesNotReturn]
    public static void ThrowOutOfMemory(AggregateException e)
    {
        ExceptionDispatchInfo.Throw(e.Flatten().InnerExceptions[0]);
    }

    /// <summary>Elements per work item for streaming elementwise kernels (256 KiB of fp32).</summary>
    public const int ElementChunk = 1 << 16;

    /// <summary>Runs <paramref name="body"/>(start, length) over chunks of <paramref name="chunk"/> items.</summary>
    public static void For(long count, long chunk, Action<long, long> body)
    {
        if (count <= 0) return;
        long chunks = (count + chunk - 1) / chunk;
        if (chunks == 1 || Environment.ProcessorCount == 1)
        {
            for (long c = 0; c < chunks; c++) body(c * chunk, Math.Min(chunk, count - c * chunk));
            return;
        }
        try
        {
            Parallel.For(0L, chunks, c => body(c * chunk, Math.Min(chunk, count - c * chunk)));
        }
        catch (AggregateException e) when (IsOutOfMemory(e))
        {
            ThrowOutOfMemory(e);
        }
    }

    /// <summary>Chunk size for <paramref name="count"/> items of roughly <paramref name="work"/> elements each, so a chunk holds about <see cref="ElementChunk"/> elements.</summary>
    public static long ChunkFor(long work) => Math.Max(1, ElementChunk / Math.Max(1, work));

    /// <summary>Below this many elements a row op runs on the calling thread: waking pool threads costs more than it saves.</summary>
    public const long InlineElements = 1 << 18;

    /// <summary>
    /// Runs <paramref name="body"/>(firstRow, rowCount) over <paramref name="rows"/> rows of
    /// <paramref name="rowLength"/> elements: inline when the whole op is small, else in row
    /// ranges of about <see cref="ElementChunk"/> elements (at least two per core for balance).
    /// </summary>
    public static void ForRows(int rows, int rowLength, Action<int, int> body)
    {
        if (rows <= 0) return;
        long work = (long)rows * Math.Max(1, rowLength);
        int cores = Environment.ProcessorCount;
        if (cores == 1 || rows == 1 || work < InlineElements)
        {
            body(0, rows);
            return;
        }
        long items = Math.Min(Math.Max(work / ElementChunk, 2L * cores), rows);
        int perItem = (int)((rows + items - 1) / items);
        int count = (rows + perItem - 1) / perItem;
        try
        {
            Parallel.For(0, count, i =>
            {
                int start = i * perItem;
                body(start, Math.Min(perItem, rows - start));
            });
        }
        catch (AggregateException e) when (IsOutOfMemory(e))
        {
            ThrowOutOfMemory(e);
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/>(item) for item in [0, items): the calling thread and up to
    /// cores - 1 pool threads claim items one at a time, and the call returns as soon as every
    /// item is done. Unlike Parallel.For it never waits for a helper that has not started yet: on
    /// a loaded machine a parked pool thread can take milliseconds to be scheduled, by which time
    /// the caller has done all the work (a late helper finds nothing to claim and returns). Meant
    /// for sub-millisecond fork-joins (the contrastive losses, small GEMMs). An exception in any
    /// item is rethrown here after the claimed items finish.
    /// </summary>
    public static void ForClaimed(int items, Action<int> body)
    {
        if (items <= 0) return;
        if (items == 1 || Environment.ProcessorCount == 1)
        {
            for (int i = 0; i < items; i++) body(i);
            return;
        }
        var job = new ClaimedJob(items, body);
        int helpers = Math.Min(items, Environment.ProcessorCount) - 1;
        for (int h = 0; h < helpers; h++) ThreadPool.UnsafeQueueUserWorkItem(static j => j.Work(), job, preferLocal: false);
        job.Work();
        job.WaitDone();
    }

    private sealed class ClaimedJob(int items, Action<int> body)
    {
        private int _next = -1, _done;
        private Exception? _error;

        public void Work()
        {
            while (true)
            {
                int item = Interlocked.Increment(ref _next);
                if (item >= items) return;
                try
                {
                    body(item);
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref _error, ex, null);
                }
                finally
                {
                    Interlocked.Increment(ref _done);
                }
            }
        }

        /// <summary>Every item is claimed when the caller's Work returns; waits for those still running on helpers.</summary>
        public void WaitDone()
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) < items) spin.SpinOnce(sleep1Threshold: -1);
            if (_error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_error);
        }
    }
}
