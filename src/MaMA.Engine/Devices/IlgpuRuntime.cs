using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace MaMA.Engine.Devices;

/// <summary>
/// The process-wide ILGPU context and the devices created from it (lazily, one per kind; CUDA one
/// per card: <c>cuda</c> is the first, <c>cuda:k</c> the k-th, for rank threads that each drive one).
/// Math calls in kernels use ILGPU's fast math mode only where exactness is not needed; the
/// default keeps IEEE semantics so CPU and GPU agree.
/// </summary>
internal static class IlgpuRuntime
{
    private static readonly Lazy<Context> s_context = new(() => Context.Create(builder => builder.Default().EnableAlgorithms()));
    private static readonly Dictionary<DeviceKind, IlgpuDevice?> s_devices = new();
    private static readonly Dictionary<int, IlgpuDevice?> s_cuda = new();
    private static readonly object s_gate = new();

    public static Context Context => s_context.Value;

    public static IlgpuDevice? Get(DeviceKind kind)
    {
        if (kind == DeviceKind.Cuda) return GetCuda(0);
        lock (s_gate)
        {
            if (s_devices.TryGetValue(kind, out IlgpuDevice? cached)) return cached;
            IlgpuDevice? device = Create(kind);
            s_devices[kind] = device;
            return device;
        }
    }

    /// <summary>The <paramref name="index"/>-th CUDA card (as CUDA numbers them, after CUDA_VISIBLE_DEVICES), or null when there is no such card.</summary>
    public static IlgpuDevice? GetCuda(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        lock (s_gate)
        {
            if (s_cuda.TryGetValue(index, out IlgpuDevice? cached)) return cached;
            IlgpuDevice? device = null;
            try
            {
                var cards = new List<CudaDevice>();
                foreach (CudaDevice d in Context.GetCudaDevices()) cards.Add(d);
                if (index < cards.Count)
                    device = new IlgpuDevice(DeviceKind.Cuda, cards[index].CreateAccelerator(Context), index == 0 ? "cuda" : $"cuda:{index}");
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"warning: CUDA card {index} present but could not be initialised: {e.Message}");
            }
            s_cuda[index] = device;
            return device;
        }
    }

    /// <summary>How many CUDA cards this process sees (0 without a driver).</summary>
    public static int CudaCount()
    {
        try
        {
            int count = 0;
            foreach (CudaDevice _ in Context.GetCudaDevices()) count++;
            return count;
        }
        catch (Exception)
        {
            return 0;
        }
    }

    /// <summary>CUDA if present, else an OpenCL GPU (not a CPU OpenCL runtime: <see cref="OpenClChoice"/>), else null.</summary>
    public static IlgpuDevice? BestGpu() =>
        Get(DeviceKind.Cuda) ?? (Get(DeviceKind.OpenCL) is { } cl && s_openClIsGpu ? cl : null);

    /// <summary>Whether the OpenCL device <see cref="Get"/> made is a GPU (set with it, under the gate).</summary>
    private static bool s_openClIsGpu;

    /// <summary>
    /// The OpenCL devices ILGPU cannot drive, each "name: reason", for <c>mama devices</c> and the
    /// error of <c>--device opencl</c> (the context only registers the usable ones).
    /// </summary>
    public static IReadOnlyList<string> UnusableOpenCl()
    {
        try
        {
            return OpenClChoice.Enumerate().Where(d => d.Refusal is not null)
                .Select(d => $"{d.Name}: {d.Refusal}").ToArray();
        }
        catch (Exception)
        {
            return []; // a broken runtime says nothing more than "no device"
        }
    }

    private static IlgpuDevice? Create(DeviceKind kind)
    {
        try
        {
            switch (kind)
            {
                case DeviceKind.OpenCL:
                {
                    var devices = new List<CLDevice>();
                    foreach (CLDevice d in Context.GetCLDevices()) devices.Add(d);
                    OpenClChoice.Candidate[] candidates = devices.Select(OpenClChoice.Of).ToArray();
                    int pick = OpenClChoice.Pick(candidates);
                    if (pick < 0) return null;
                    s_openClIsGpu = OpenClChoice.AutoTakes(candidates[pick]);
                    return new IlgpuDevice(kind, devices[pick].CreateAccelerator(Context), "opencl");
                }
                case DeviceKind.IlgpuCpu:
                    return new IlgpuDevice(kind, Context.CreateCPUAccelerator(0), "ilgpu-cpu");
                default:
                    return null;
            }
        }
        catch (Exception e) when (kind != DeviceKind.IlgpuCpu)
        {
            Console.Error.WriteLine($"warning: {kind} present but could not be initialised: {e.Message}");
            return null;
        }
    }
}
