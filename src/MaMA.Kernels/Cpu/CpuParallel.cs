namespace MaMA.Kernels.Cpu;

/// <summary>Splits [0, count) into fixed-size chunks run across cores (inline when there is only one).</summary>
public static class CpuParallel
{
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
        Parallel.For(0L, chunks, c => body(c * chunk, Math.Min(chunk, count - c * chunk)));
    }

    /// <summary>Chunk size for <paramref name="count"/> items of roughly <paramref name="work"/> elements each, so a chunk holds about <see cref="ElementChunk"/> elements.</summary>
    public static long ChunkFor(long work) => Math.Max(1, ElementChunk / Math.Max(1, work));
}
