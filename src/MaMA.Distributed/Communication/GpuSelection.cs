using System.Runtime.InteropServices;

namespace MaMA.Distributed.Communication;

/// <summary>
/// One GPU per rank on a machine: local rank k uses the k-th GPU. The engine opens the first CUDA
/// device it sees, so each rank narrows what CUDA sees with CUDA_VISIBLE_DEVICES before the device is
/// first touched. Where the launcher already set CUDA_VISIBLE_DEVICES to a list (Slurm's
/// --gpus-per-node does), rank k takes the k-th entry (modulo the list, so more ranks than GPUs
/// share them); where it set one entry (--gpus-per-task), that one is kept. The variable is set
/// with libc's setenv: .NET's Environment.SetEnvironmentVariable changes only the managed copy,
/// which the CUDA driver never reads. OpenCL has no such variable; several ranks on an OpenCL
/// machine share its first GPU.
/// </summary>
public static class GpuSelection
{
    public const string Variable = "CUDA_VISIBLE_DEVICES";

    /// <summary>
    /// The CUDA_VISIBLE_DEVICES value for <paramref name="localRank"/> of <paramref name="localSize"/>
    /// given the launcher's value (null: unset), or null to leave it as it is.
    /// </summary>
    public static string? VisibleDevicesFor(int localRank, int localSize, string? current)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(localRank);
        if (localSize <= 1) return null;
        if (string.IsNullOrWhiteSpace(current)) return localRank.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] list = current.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return list.Length <= 1 ? null : list[localRank % list.Length];
    }

    /// <summary>Narrows CUDA to this rank's GPU (before any device is created); returns the value set, or null when nothing changed.</summary>
    public static string? Apply(int localRank, int localSize)
    {
        string? value = VisibleDevicesFor(localRank, localSize, Environment.GetEnvironmentVariable(Variable));
        if (value is null) return null;
        if (setenv(Variable, value, 1) != 0) throw new InvalidOperationException($"setenv({Variable}) failed (errno {Marshal.GetLastPInvokeError()}).");
        Environment.SetEnvironmentVariable(Variable, value);
        return value;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
