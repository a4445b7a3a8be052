using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace MaMA.Engine.Devices;

/// <summary>
/// The process-wide ILGPU context and the devices created from it (lazily, one per kind).
/// Math calls in kernels use ILGPU's fast math mode only where exactness is not needed; the
/// default keeps IEEE semantics so CPU and GPU agree.
/// </summary>
internal static class IlgpuRuntime
{
    private static readonly Lazy<Context> s_context = new(() => Context.Create(builder => builder.Default().EnableAlgorithms()));
    private static readonly Dictionary<DeviceKind, IlgpuDevice?> s_devices = new();
    private static readonly object s_gate = new();

    public static Context Context => s_context.Value;

    public static IlgpuDevice? Get(DeviceKind kind)
    {
        lock (s_gate)
        {
            if (s_devices.TryGetValue(kind, out IlgpuDevice? cached)) return cached;
            IlgpuDevice? device = Create(kind);
            s_devices[kind] = device;
            return device;
        }
    }

    /// <summary>CUDA if present, else OpenCL GPU, else null.</summary>
    public static IlgpuDevice? BestGpu() => Get(DeviceKind.Cuda) ?? Get(DeviceKind.OpenCL);

    private static IlgpuDevice? Create(DeviceKind kind)
    {
        try
        {
            switch (kind)
            {
                case DeviceKind.Cuda:
                    foreach (CudaDevice d in Context.GetCudaDevices())
                        return new IlgpuDevice(kind, d.CreateAccelerator(Context), "cuda");
                    return null;
                case DeviceKind.OpenCL:
                    foreach (CLDevice d in Context.GetCLDevices())
                        if (d.AcceleratorType == AcceleratorType.OpenCL)
                            return new IlgpuDevice(kind, d.CreateAccelerator(Context), "opencl");
                    return null;
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
