using MaMA.Engine.Memory;

namespace MaMA.Engine.Devices;

/// <summary>
/// A compute device: allocates storage through its caching allocator and runs kernels.
/// Get one with <see cref="Parse"/> (the CLI's <c>--device auto|cuda|opencl|cpu|ilgpu-cpu</c>).
/// </summary>
public abstract class Device
{
    public abstract DeviceKind Kind { get; }

    /// <summary>Human-readable name, e.g. "cpu (2 cores, AVX2)" or "cuda:0 NVIDIA H100".</summary>
    public abstract string Name { get; }

    /// <summary>The device spelling accepted by <see cref="Parse"/>.</summary>
    public abstract string Spec { get; }

    /// <summary>Bytes held by live tensors on this device.</summary>
    public abstract long AllocatedBytes { get; }

    /// <summary>Peak of <see cref="AllocatedBytes"/>.</summary>
    public abstract long PeakAllocatedBytes { get; }

    public bool IsCpu => Kind == DeviceKind.Cpu;

    /// <summary>The fast CPU device (a process-wide singleton).</summary>
    public static Device Cpu => CpuDevice.Instance;

    internal abstract Storage Allocate(long bytes);

    /// <summary>Waits until all queued kernels finished.</summary>
    public abstract void Synchronize();

    /// <summary>Frees blocks cached by the allocator.</summary>
    public abstract void EmptyCache();

    public override string ToString() => Name;

    /// <summary>
    /// Resolves a device spelling. <c>auto</c> picks CUDA, then OpenCL, then the fast CPU backend.
    /// Unknown or unavailable devices throw with the list of what this machine has.
    /// </summary>
    public static Device Parse(string spec) => spec.Trim().ToLowerInvariant() switch
    {
        "auto" => IlgpuRuntime.BestGpu() ?? Cpu,
        "cpu" => Cpu,
        "cuda" => IlgpuRuntime.Get(DeviceKind.Cuda) ?? throw Unavailable("cuda"),
        "opencl" => IlgpuRuntime.Get(DeviceKind.OpenCL) ?? throw Unavailable("opencl"),
        "ilgpu-cpu" => IlgpuRuntime.Get(DeviceKind.IlgpuCpu)!,
        _ => throw new ArgumentException($"Unknown device '{spec}'. Use auto, cuda, opencl, cpu or ilgpu-cpu."),
    };

    /// <summary>Every device this machine offers, best first.</summary>
    public static IReadOnlyList<string> Available()
    {
        var list = new List<string>();
        if (IlgpuRuntime.Get(DeviceKind.Cuda) is { } cuda) list.Add("cuda: " + cuda.Name);
        if (IlgpuRuntime.Get(DeviceKind.OpenCL) is { } cl) list.Add("opencl: " + cl.Name);
        list.Add("cpu: " + Cpu.Name);
        list.Add("ilgpu-cpu: ILGPU CPU simulator (kernel verification)");
        return list;
    }

    private static Exception Unavailable(string kind) =>
        new InvalidOperationException($"No {kind} device on this machine. Available: {string.Join("; ", Available())}. Use --device auto to pick the best one.");
}
