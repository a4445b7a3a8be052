namespace MaMA.Engine.Memory;

/// <summary>
/// Per-device caching allocator (the PyTorch CUDA-allocator idea, simplified): freed blocks go to a
/// free list keyed by their rounded size and are handed out again instead of returning memory to
/// the device. Rounding (<see cref="RoundSize"/>): up to 1 MiB to the next power of two (min 512 B),
/// above that to one of 16 size classes per power of two, so steady-state training reuses the same
/// blocks every step and wastes at most 1/16 of a large block.
/// <para>
/// Reserved memory (blocks handed out + blocks cached) only grows past a mark after a garbage
/// collection: most tensors of a training step (activations, the autograd graph's gradients) are
/// not disposed but returned by <see cref="Storage"/>'s finalizer, so without it the blocks of
/// steps whose tensors the GC has not yet finalized stay out, new ones are reserved, and the
/// reserved high-water mark ratchets up with the GC's timing (the soak in docs/reliability.md:
/// 98% of storages come back from the finalizer). On a cache miss past the mark the allocator runs
/// a gen-1, then a full collection, waits for the finalizers and looks in the cache again; only
/// when that finds nothing does it grow. The mark is twice the bytes live after a full collection
/// (at least <see cref="InitialMark"/>), and 1/8 above the reserved size after a growth.
/// </para>
/// <para>
/// A cap on reserved bytes (<see cref="DeviceMemoryLimit"/>, <c>MAMA_DEVICE_MEMORY_LIMIT</c>) makes
/// any device as small as asked: an allocation that does not fit after collecting and emptying the
/// cache throws <see cref="DeviceOutOfMemoryException"/>, as a full GPU does.
/// </para>
/// </summary>
public sealed class CachingAllocator<TBlock> where TBlock : class
{
    /// <summary>The first mark: the allocator grows to this many reserved bytes without collecting.</summary>
    public const long InitialMark = 32L << 20;

    private readonly Func<long, TBlock> _allocate;
    private readonly Action<TBlock> _free;
    private readonly Dictionary<long, Stack<TBlock>> _cache = new();

    // Blocks handed out and not yet returned. Holding them here keeps them reachable while only a
    // Storage's finalizer references them: otherwise a block with its own finalizer (ILGPU
    // buffers) could be finalized in the same GC as its Storage and then be handed out again freed.
    private readonly HashSet<TBlock> _live = new(ReferenceEqualityComparer.Instance);
    private readonly object _gate = new();
    private readonly Lazy<long?> _limit;
    private long _mark = InitialMark;

    /// <param name="limitBytes">Cap on reserved bytes; null reads <c>MAMA_DEVICE_MEMORY_LIMIT</c> (unset: no cap).</param>
    public CachingAllocator(string deviceName, Func<long, TBlock> allocate, Action<TBlock> free, long? limitBytes = null)
    {
        DeviceName = deviceName;
        _allocate = allocate;
        _free = free;
        // Read on the first allocation that needs it: a bad value is then an ArgumentException the
        // CLI prints, not a type-initialisation failure of the CPU device.
        _limit = limitBytes is { } l ? new Lazy<long?>(l) : new Lazy<long?>(DeviceMemoryLimit.FromEnvironment);
    }

    public string DeviceName { get; }

    /// <summary>Bytes in blocks currently held by tensors.</summary>
    public long AllocatedBytes { get; private set; }

    /// <summary>Bytes in free blocks kept for reuse.</summary>
    public long CachedBytes { get; private set; }

    /// <summary>Bytes taken from the device: <see cref="AllocatedBytes"/> + <see cref="CachedBytes"/>.</summary>
    public long ReservedBytes => AllocatedBytes + CachedBytes;

    /// <summary>Largest <see cref="AllocatedBytes"/> seen since creation or <see cref="ResetPeak"/>.</summary>
    public long PeakAllocatedBytes { get; private set; }

    /// <summary>Largest <see cref="ReservedBytes"/> seen: what the device (the process, on the CPU) holds at most.</summary>
    public long PeakReservedBytes { get; private set; }

    /// <summary>The cap on <see cref="ReservedBytes"/>, or null.</summary>
    public long? LimitBytes => _limit.Value;

    public long CacheHits { get; private set; }

    public long CacheMisses { get; private set; }

    /// <summary>Garbage collections the allocator ran to get blocks back before growing.</summary>
    public long Collections { get; private set; }

    /// <summary>Of <see cref="Collections"/>, those after which the cache held a block of the size asked for.</summary>
    public long CollectionsThatFound { get; private set; }

    /// <summary>
    /// The size class of a request: up to 1 MiB the next power of two (at least 512 B); above, the
    /// next of 16 equal steps between two powers of two (PyTorch's roundup_power2_divisions), so at
    /// most 1/16 of a large block is padding. With 2 MiB steps a ViT-B/14 activation at 518 (1374 x
    /// 768 fp32, 4.03 MiB) took a 6 MiB block, and the forward's saved tensors 1.3x their size.
    /// </summary>
    public static long RoundSize(long bytes)
    {
        if (bytes <= 512) return 512;
        if (bytes <= 1L << 20) return 1L << (64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)));
        long step = (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)bytes) / 32;
        return (bytes + step - 1) / step * step;
    }

    /// <summary>Returns a block of at least <paramref name="bytes"/> and its rounded capacity.</summary>
    public (TBlock Block, long Capacity) Rent(long bytes)
    {
        long size = RoundSize(bytes);
        long? limit = _limit.Value;
        bool overMark;
        lock (_gate)
        {
            if (TryTakeCached(size) is { } cached) return (cached, size);
            CacheMisses++;
            overMark = ReservedBytes + size > _mark || ReservedBytes + size > limit;
        }

        if (overMark)
        {
            // Unreachable tensors give their blocks back from finalizers: collect before growing,
            // the young generations first (a step's tensors die young), then everything.
            long before = AllocatedBytes;
            for (int generation = 1; generation <= 2; generation++)
            {
                long collectStart = System.Diagnostics.Stopwatch.GetTimestamp();
                GC.Collect(generation, GCCollectionMode.Forced, blocking: true);
                GC.WaitForPendingFinalizers();
                if (Diagnostics.OpProfile.Enabled) Diagnostics.OpProfile.Add("allocator collect", System.Diagnostics.Stopwatch.GetElapsedTime(collectStart));
                lock (_gate)
                {
                    Collections++;
                    // After a full collection what is allocated is live: let garbage grow to that
                    // size before the next one (the GC's own rule of thumb for its heap).
                    if (generation == 2) _mark = Math.Max(_mark, 2 * AllocatedBytes);
                    if (TryTakeCached(size) is { } found)
                    {
                        CollectionsThatFound++;
                        MemoryLog.Write(DeviceName, $"gen{generation}-found", size, before, this);
                        return (found, size);
                    }
                }
            }
            // Under a cap, free cached blocks of other sizes rather than failing.
            if (limit is { } cap) TrimTo(cap - size);
            MemoryLog.Write(DeviceName, "grow", size, before, this);
        }

        lock (_gate)
        {
            if (AllocatedBytes + CachedBytes + size > limit)
                throw new DeviceOutOfMemoryException(DeviceName, size, AllocatedBytes, limit, null);
        }
        TBlock block = AllocateWithRetry(size);
        lock (_gate)
        {
            Account(size);
            _live.Add(block);
            if (ReservedBytes > PeakReservedBytes) PeakReservedBytes = ReservedBytes;
            if (ReservedBytes > _mark) _mark = ReservedBytes + ReservedBytes / 8;
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

    /// <summary>Frees cached blocks, largest first, until at most <paramref name="reserved"/> bytes are reserved.</summary>
    private void TrimTo(long reserved)
    {
        List<TBlock> toFree = new();
        lock (_gate)
        {
            foreach (long size in _cache.Keys.OrderDescending().ToList())
            {
                Stack<TBlock> stack = _cache[size];
                while (ReservedBytes > reserved && stack.Count > 0)
                {
                    toFree.Add(stack.Pop());
                    CachedBytes -= size;
                }
                if (stack.Count == 0) _cache.Remove(size);
                if (ReservedBytes <= reserved) break;
            }
        }
        foreach (TBlock block in toFree) _free(block);
    }

    public void ResetPeak()
    {
        lock (_gate) PeakAllocatedBytes = AllocatedBytes;
    }

    /// <summary>Under the gate: a cached block of <paramref name="size"/>, now accounted as allocated, or null.</summary>
    private TBlock? TryTakeCached(long size)
    {
        if (!_cache.TryGetValue(size, out Stack<TBlock>? stack) || stack.Count == 0) return null;
        CachedBytes -= size;
        CacheHits++;
        Account(size);
        TBlock cached = stack.Pop();
        _live.Add(cached);
        return cached;
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
        catch (Exception first) when (IsOutOfMemory(first))
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            EmptyCache();
            try
            {
                return _allocate(size);
            }
            catch (Exception second) when (IsOutOfMemory(second))
            {
                throw new DeviceOutOfMemoryException(DeviceName, size, AllocatedBytes, _limit.Value, second);
            }
        }
    }

    private static bool IsOutOfMemory(Exception e) =>
        e is OutOfMemoryException || e.GetType().Name.Contains("OutOfMemory", StringComparison.Ordinal)
                                  || e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);
}
