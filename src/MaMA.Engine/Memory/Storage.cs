using MaMA.Engine.Devices;

namespace MaMA.Engine.Memory;

/// <summary>
/// A block of device memory shared by a tensor and all its views. Reference-counted by the
/// tensors that explicitly release it; a finalizer returns the block to the device's caching
/// allocator when no tensor references it any more, so forgotten tensors never leak.
/// </summary>
public abstract class Storage
{
    private static long s_releasedByDispose, s_releasedByFinalizer;
    private int _references = 1;
    private int _released;

    protected Storage(Device device, long byteLength, long capacity)
    {
        Device = device;
        ByteLength = byteLength;
        Capacity = capacity;
    }

    ~Storage()
    {
        if (Free()) Interlocked.Increment(ref s_releasedByFinalizer);
    }

    /// <summary>Storages (all devices, this process) whose block went back when their last tensor was disposed.</summary>
    public static long ReleasedByDispose => Interlocked.Read(ref s_releasedByDispose);

    /// <summary>Storages whose block went back from the finalizer: no tensor sharing it was disposed.</summary>
    public static long ReleasedByFinalizer => Interlocked.Read(ref s_releasedByFinalizer);

    public Device Device { get; }

    /// <summary>Bytes requested (the tensor's size).</summary>
    public long ByteLength { get; }

    /// <summary>Bytes actually held (the allocator's rounded size).</summary>
    public long Capacity { get; }

    public bool IsReleased => Volatile.Read(ref _released) != 0;

    internal void AddReference() => Interlocked.Increment(ref _references);

    /// <summary>Drops one reference; the last one returns the block to the allocator.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            if (Free()) Interlocked.Increment(ref s_releasedByDispose);
            GC.SuppressFinalize(this);
        }
    }

    internal void ThrowIfReleased()
    {
        if (IsReleased) throw new ObjectDisposedException(nameof(Storage), "This tensor's memory was released (Dispose was called on it or on a tensor sharing its storage).");
    }

    /// <summary>Returns the block once; true for the call that did.</summary>
    private bool Free()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return false;
        ReturnBlock();
        return true;
    }

    /// <summary>Gives the block back to the device allocator. Runs at most once.</summary>
    protected abstract void ReturnBlock();
}
