using System.Runtime.InteropServices;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Native scratch space for CPU kernels (packing buffers, per-thread tiles), taken outside the
/// engine's caching allocator. When the process has no memory left the failure must reach the
/// user as the engine's out-of-memory error (one line: which scratch, its size, what to do), not
/// as an <see cref="OutOfMemoryException"/> from a worker thread: MaMA.Engine sets
/// <see cref="OutOfMemory"/> to build its DeviceOutOfMemoryException. Every kernel scratch
/// allocation in src/ goes through here; free it with <see cref="NativeMemory.AlignedFree"/>
/// (<see cref="AlignedAlloc"/>) or <see cref="NativeMemory.Free"/> (<see cref="Alloc"/>).
/// <para>
/// Test hook (internal, for MaMA.Engine.Tests only): <see cref="FailFromBytes"/> and
/// <see cref="FailKernel"/> make a request fail as if native memory were exhausted, so every
/// kernel's out-of-memory path can be run without exhausting the machine.
/// </para>
/// </summary>
public static unsafe class ScratchMemory
{
    /// <summary>
    /// Makes the exception thrown for a failed request of the given bytes for the named scratch
    /// (e.g. "Sgemm packed B") (set by the engine's CPU device).
    /// </summary>
    public static Func<long, string, OutOfMemoryException, Exception>? OutOfMemory { get; set; }

    /// <summary>
    /// Test hook: a request of at least this many bytes fails (when <see cref="FailKernel"/> is null
    /// or prefixes the scratch's name). <see cref="long.MaxValue"/> (the default) turns it off.
    /// </summary>
    internal static long FailFromBytes = long.MaxValue;

    /// <summary>Test hook: only scratch whose name starts with this fails under <see cref="FailFromBytes"/>; null: any.</summary>
    internal static string? FailKernel;

    /// <summary>
    /// <see cref="NativeMemory.AlignedAlloc"/> of <paramref name="bytes"/> for the scratch named
    /// <paramref name="kernel"/>, its failure mapped through <see cref="OutOfMemory"/>.
    /// </summary>
    public static void* AlignedAlloc(long bytes, nuint alignment, string kernel)
    {
        try
        {
            if (bytes >= FailFromBytes) Fault(kernel);
            return NativeMemory.AlignedAlloc((nuint)bytes, alignment);
        }
        catch (OutOfMemoryException e) when (OutOfMemory is not null)
        {
            throw OutOfMemory(bytes, kernel, e);
        }
    }

    /// <summary>
    /// <see cref="NativeMemory.Alloc(nuint, nuint)"/> of <paramref name="count"/> elements of
    /// <paramref name="elementSize"/> bytes for the scratch named <paramref name="kernel"/>, its
    /// failure mapped through <see cref="OutOfMemory"/>.
    /// </summary>
    public static void* Alloc(long count, nuint elementSize, string kernel)
    {
        long bytes = count * (long)elementSize;
        try
        {
            if (bytes >= FailFromBytes) Fault(kernel);
            return NativeMemory.Alloc((nuint)count, elementSize);
        }
        catch (OutOfMemoryException e) when (OutOfMemory is not null)
        {
            throw OutOfMemory(bytes, kernel, e);
        }
    }

    private static void Fault(string kernel)
    {
        string? only = FailKernel;
        if (only is null || kernel.StartsWith(only, StringComparison.Ordinal))
            throw new OutOfMemoryException($"test hook: ScratchMemory.FailFromBytes refused '{kernel}'.");
    }
}

/// <summary>
/// Marks the engine's out-of-memory exception (MaMA.Engine's DeviceOutOfMemoryException), so the
/// kernels' fork-joins (<see cref="CpuParallel"/>) can let it through instead of an
/// <see cref="AggregateException"/>.
/// </summary>
public interface IDeviceOutOfMemory
{
}
