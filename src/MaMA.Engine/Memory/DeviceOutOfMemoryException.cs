namespace MaMA.Engine.Memory;

/// <summary>
/// The device has no room for a tensor (or a kernel's scratch space) even after collecting
/// garbage and freeing every cached block, or the request does not fit under the device memory
/// limit (<see cref="DeviceMemoryLimit"/>). The message names what was asked, what tensors hold,
/// the limit, and what to do. It is marked <see cref="Kernels.Cpu.IDeviceOutOfMemory"/> so the kernels'
/// fork-joins rethrow it as itself rather than inside an <see cref="AggregateException"/>.
/// </summary>
public sealed class DeviceOutOfMemoryException : Exception, Kernels.Cpu.IDeviceOutOfMemory
{
    public DeviceOutOfMemoryException(string device, long requested, long allocated, long? limit, Exception? inner, string what = "")
        : base(Describe(device, requested, allocated, limit, what), inner)
    {
        RequestedBytes = requested;
        AllocatedBytes = allocated;
        LimitBytes = limit;
    }

    public long RequestedBytes { get; }

    /// <summary>Bytes held by tensors when the request failed.</summary>
    public long AllocatedBytes { get; }

    /// <summary>The device memory limit in force, or null.</summary>
    public long? LimitBytes { get; }

    private static string Describe(string device, long requested, long allocated, long? limit, string what) =>
        $"Out of memory on {device}: could not allocate {Size(requested)}{what} with {Size(allocated)} already held by tensors" +
        (limit is { } l ? $" (device memory limit {Size(l)}, {DeviceMemoryLimit.Variable})" : "") +
        ". Lower the micro-batch size, enable activation checkpointing or train in bf16.";

    /// <summary>
    /// MiB with one decimal from 1 MiB up, KiB below, bytes below 1 KiB: the request that fails when
    /// tensors fill the device to the last block is often small, and "0.0 MiB" would say nothing.
    /// </summary>
    internal static string Size(long bytes) => bytes switch
    {
        >= 1L << 20 => FormattableString.Invariant($"{bytes / (1024.0 * 1024.0):F1} MiB"),
        >= 1L << 10 => FormattableString.Invariant($"{bytes / 1024.0:F1} KiB"),
        _ => FormattableString.Invariant($"{bytes} B"),
    };
}
