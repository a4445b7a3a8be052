namespace MaMA.Engine.Memory;

/// <summary>
/// Per-device caching allocator (the PyTorch CUDA-allocator idea, simplified): freed blocks go to a
/// free list keyed by their rounded size and are handed out again instead of returning memory to
/// the device. Rounding: up to 1 MiB to the next power of two (min 512 B), above that to the next
/// 2 MiB multiple, so steady-state training reuses the same blocks every step.
/// </summary>
public sealed class CachingAllocator<TBlock> where TBlock : class
{
    private readonly Func<long, TBlock> _allocate;
    private readonly Action<TBlock> _free;
    private readonly Dictionary<long, Stack<TBlock>> _cache = new();

    // Blocks handed out and not yet returned. Holding them here keeps them reachable while only a
    // Storage's finalizer references them: otherwise a block with its own finalizer (ILGPU
    // buffers) could be finalized in the same GC as its Storage and then be handed out again freed.
    private readonly HashSet<TBlock> _live = new(ReferenceEqualityComparer.Instance);
    private readonly object _gate = new();

    public CachingAllocator(string deviceName, Func<long, TBlock> allocate, Action<TBlock> free)
    {
        DeviceName = deviceName;
        _allocate = allocate;
        _free = free;
    }

    public string DeviceName { get; }

    /// <summary>Bytes in blocks currently held by tensors.</summary>
    public long AllocatedBytes { get; private set; }

    /// <summary>Bytes in free blocks kept for reuse.</summary>
    public long CachedBytes { get; private set; }

    /// <summary>Largest <see cref="AllocatedBytes"/> seen since creation or <see cref="ResetPeak"/>.</summary>
    public long PeakAllocatedBytes { get; private set; }

    public long CacheHits { get; private set; }

    public long CacheMisses { get; private set; }

    public static long RoundSize(long bytes)
    {
        if (bytes <= 512) return 512;
        if (bytes <= 1L << 20) return 1L << (64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)));
        const long twoMiB = 2L << 20;
        return (bytes + twoMiB - 1) / twoMiB * twoMiB;
    }

    /// <summary>Returns a block of at least <paramref name="bytes"/> and its rounded capacity.</summary>
    public (TBlock Block, long Capacity) Rent(long bytes)
    {
        long size = RoundSize(bytes);
        lock (_gate)
        {
            if (_cache.TryGetValue(size, out Stack<TBlock>? stack) && stack.Count > 0)
            {
                CachedBytes -= size;
                CacheHits++;
                Account(size);
                TBlock cached = stack.Pop();
                _live.Add(cached);
                return (cached, size);
            }
            CacheMisses++;
        }

        TBlock block = AllocateWithRetry(size);
        lock (_gate)
        {
            Account(size);
            _live.Add(block);
        }
        return (block, size);
    }

    /// <summary>Puts a block back on its free list.</summary>
    public void Return(TBlock block, long capacity)
    {
        lock (_gate)
        {
            if (!_live.Remove(block)) return; // already returned
            AllocatedBytes -= capacity;
            CachedBytes += capacity;
            if (!_cache.TryGetValue(capacity, out Stack<TBlock>? stack))
                _cache[capacity] = stack = new Stack<TBlock>();
            stack.Push(block);
        }
    }

    /// <summary>Frees every cached block back to the device.</summary>
    public void EmptyCache()
    {
        List<TBlock> toFree = new();
        lock (_gate)
        {
            foreach (Stack<TBlock> stack in _cache.Values) toFree.AddRange(stack);
            _cache.Clear();
            CachedBytes = 0;
        }
        foreach (TBlock block in toFree) _free(block);
    }

    public void ResetPeak()
    {
        lock (_gate) PeakAllocatedBytes = AllocatedBytes;
    }

    private void Account(long size)
    {
        AllocatedBytes += size;
        if (AllocatedBytes > PeakAllocatedBytes) PeakAllocatedBytes = AllocatedBytes;
    }

    /// <summary>
    /// On failure: collect garbage (finalizers return unreachable tensors' blocks), empty the
    /// cache, retry once; then report out of memory with the numbers a user needs.
    /// </summary>
    private TBlock AllocateWithRetry(long size)
    {
        try
        {
            return _allocate(size);
        }
        catch (Exception first) when (first is OutOfMemoryException || first.GetType().Name.Contains("OutOfMemory", StringComparison.Ordinal)
                                       || first.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            EmptyCache();
            try
            {
                return _allocate(size);
            }
            catch (Exception second)
            {
                throw new DeviceOutOfMemoryException(DeviceName, size, AllocatedBytes, second);
            }
        }
    }
}

/// <summary>The device has no room for a tensor even after freeing every cached block.</summary>
public sealed class DeviceOutOfMemoryException(string device, long requested, long allocated, Exception inner)
    : Exception($"Out of memory on {device}: could not allocate {requested / (1024.0 * 1024.0):F1} MiB " +
                $"with {allocated / (1024.0 * 1024.0):F1} MiB already held by tensors. Lower the micro-batch size or enable activation recomputation.", inner)
{
    public long RequestedBytes { get; } = requested;
}
