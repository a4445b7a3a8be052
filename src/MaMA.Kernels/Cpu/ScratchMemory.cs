using System.Runtime.InteropServices;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Native scratch space for CPU kernels (packing buffers, per-thread tiles), taken outside the
/// engine's caching allocator. When the process has no memory left the failure must reach the
/// user as the engine's out-of-memory error (one line: what was asked, what to do), not as an
/// <see cref="OutOfMemoryException"/> from a worker thread: MaMA.Engine sets
/// <see cref="OutOfMemory"/> to build its DeviceOutOfMemoryException.
/// </summary>
public static unsafe class ScratchMemory
{
    /// <summary>Makes the exception thrown for a failed request of the given bytes (set by the engine's CPU device).</summary>
    public static Func<long, OutOfMemoryException, Exception>? OutOfMemory { get; set; }

    /// <summary><see cref="NativeMemory.AlignedAlloc"/> of <paramref name="bytes"/>, its failure mapped through <see cref="OutOfMemory"/>.</summary>
    public static void* AlignedAlloc(long bytes, nuint alignment)
    {
        try
        {
            return NativeMemory.AlignedAlloc((nuint)bytes, alignment);
        }
        catch (OutOfMemoryException e) when (OutOfMemory is not null)
        {
            throw OutOfMemory(bytes, e);
        }
    }
}
