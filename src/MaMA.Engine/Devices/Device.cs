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

    /// <summary>Starts <see cref="PeakAllocatedBytes"/> again from what is allocated now (as torch.cuda.reset_peak_memory_stats).</summary>
    public abstract void ResetPeakAllocatedBytes();

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
    /// Resolves a device spelling. <c>auto</c> picks CUDA, then an OpenCL GPU, then the fast CPU backend;
    /// <c>cuda</c> is the first CUDA card and <c>cuda:k</c> the k-th (<c>cuda:0</c> = <c>cuda</c>).
    /// Unknown or unavailable devices throw with the list of what this machine has.
    /// </summary>
    public static Device Parse(string spec)
    {
        string s = spec.Trim().ToLowerInvariant();
        if (s.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!int.TryParse(s.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
                throw new ArgumentException($"Unknown device '{spec}': cuda:K takes a card number K >= 0.");
            return IlgpuRuntime.GetCuda(index) ?? throw Unavailable(s);
        }
        return s switch
        {
            "auto" => IlgpuRuntime.BestGpu() ?? Cpu,
            "cpu" => Cpu,
            "cuda" => IlgpuRuntime.Get(DeviceKind.Cuda) ?? throw Unavailable("cuda"),
            "opencl" => IlgpuRuntime.Get(DeviceKind.OpenCL) ?? throw Unavailable("opencl"),
            "ilgpu-cpu" => IlgpuRuntime.Get(DeviceKind.IlgpuCpu)!,
            _ => throw new ArgumentException($"Unknown device '{spec}'. Use auto, cuda, cuda:K, opencl, cpu or ilgpu-cpu."),
        };
    }

    /// <summary>How many CUDA cards this process sees (0 without a driver): <c>cuda:0</c> .. <c>cuda:(count - 1)</c>.</summary>
    public static int CudaCount() => IlgpuRuntime.CudaCount();

    /// <summary>
    /// Makes this device current for the calling thread: a CUDA context is per thread, so a thread
    /// that drives its own card (a rank thread of `--launcher threads`) binds it before its first
    /// tensor. Nothing to do for the other devices.
    /// </summary>
    public virtual void BindToCurrentThread() { }

    /// <summary>
    /// Every device this machine offers, best first, and the OpenCL devices ILGPU cannot drive
    /// ("opencl, not usable: NAME: reason", before the CPU devices).
    /// </summary>
    public static IReadOnlyList<string> Available()
    {
        List<string> list = Usable();
        list.InsertRange(list.Count - 2, IlgpuRuntime.UnusableOpenCl().Select(u => "opencl, not usable: " + u));
        return list;
    }

    /// <summary>The devices <c>--device</c> can name here, best first; the last two are the CPU devices.</summary>
    private static List<string> Usable()
    {
        var list = new List<string>();
        if (IlgpuRuntime.Get(DeviceKind.Cuda) is { } cuda) list.Add($"cuda: {cuda.Name}, {cuda.TensorCores}");
        for (int k = 1; k < IlgpuRuntime.CudaCount(); k++)
            if (IlgpuRuntime.GetCuda(k) is { } card) list.Add($"cuda:{k}: {card.Name}, {card.TensorCores}");
        if (IlgpuRuntime.Get(DeviceKind.OpenCL) is { } cl) list.Add("opencl: " + cl.Name);
        list.Add("cpu: " + Cpu.Name);
        list.Add("ilgpu-cpu: ILGPU CPU simulator (kernel verification)");
        return list;
    }

    private static Exception Unavailable(string kind)
    {
        // For opencl, say why a runtime that is there does not count (too old for ILGPU, say).
        IReadOnlyList<string> refused = kind == "opencl" ? IlgpuRuntime.UnusableOpenCl() : [];
        string why = refused.Count > 0 ? " (" + string.Join("; ", refused) + ")" : "";
        return new InvalidOperationException(
            $"No {kind} device on this machine{why}. Available: {string.Join("; ", Usable())}. Use --device auto to pick the best one.");
    }
}
