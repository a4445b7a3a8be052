using MaMA.Engine.Devices;

namespace MaMA.Engine.Memory;

/// <summary>
/// A block of device memory shared by a tensor and all its views. Reference-counted by the
/// tensors that explicitly release it; a finalizer returns the block to the device's caching
/// allocator when no tensor references it any more, so forgotten tensors never leak.
/// </summary>
public abstract class Storage
{
    private int _references = 1;
    private int _released;

    protected Storage(Device device, long byteLength, long capacity)
    {
        Device = device;
        ByteLength = byteLength;
        Capacity = capacity;
    }

    ~Storage() => Free();

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
            Free();
            GC.SuppressFinalize(this);
        }
    }

    internal void ThrowIfReleased()
    {
        if (IsReleased) throw new ObjectDisposedException(nameof(Storage), "This tensor's memory was released (Dispose was called on it or on a tensor sharing its storage).");
    }

    private void Free()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) ReturnBlock();
    }

    /// <summary>Gives the block back to the device allocator. Runs at most once.</summary>
    protected abstract void ReturnBlock();
}
