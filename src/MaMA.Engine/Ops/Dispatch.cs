using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using System.Runtime.CompilerServices;
using MaMA.Engine.Devices;
using MaMA.Engine.Diagnostics;
using MaMA.Engine.Tensors;

namespace MaMA.Engine;

/// <summary>
/// The backend boundary: every op hands one closure per backend and this picks by device. The fast
/// CPU closure gets raw pointers (generated RunCpu / hand-written SIMD), the ILGPU closure gets the
/// device's stream (generated Launch); ILGPU covers CUDA, OpenCL and the CPU simulator alike.
/// With <c>MAMA_PROFILE</c> each dispatch is timed under its call site (<see cref="OpProfile"/>).
/// <para>
/// Ops never synchronise the device. An ILGPU device has one in-order stream (cuBLAS is bound to
/// it too), so a temporary may go back to the allocator's cache as soon as its launches are queued:
/// whatever reuses the block is queued behind them (kernels, device copies, memsets) or
/// synchronises first (host copies, <see cref="Tensors.Tensor"/> reads, freeing device memory).
/// The simulator's tensor-core launchers, which run on a second accelerator, synchronise both.
/// </para>
/// </summary>
internal static class Dispatch
{
    public static void Run(Device device, Action cpu, Action<AcceleratorStream> ilgpu,
        [CallerFilePath] string file = "", [CallerMemberName] string member = "")
    {
        if (OpProfile.Enabled)
            OpProfile.Time($"op {Path.GetFileName(file.Replace('\\', '/'))}:{member}", device, () => RunOn(device, cpu, ilgpu));
        else
            RunOn(device, cpu, ilgpu);
    }

    /// <summary>
    /// Work that runs on accelerators only (the tensor-core paths, whose callers have already chosen
    /// the device): launched on the ILGPU stream and, with <c>MAMA_PROFILE</c>, timed under its call
    /// site like <see cref="Run"/>, so that a profiled bf16 step shows its products.
    /// </summary>
    public static void Accelerated(Device device, Action<AcceleratorStream> ilgpu,
        [CallerFilePath] string file = "", [CallerMemberName] string member = "")
    {
        if (device is not IlgpuDevice)
            throw new InvalidOperationException($"Internal error: {member} runs on ILGPU devices only, not on {device.Name}.");
        Run(device, static () => throw new System.Diagnostics.UnreachableException(), ilgpu, file, member);
    }

    private static void RunOn(Device device, Action cpu, Action<AcceleratorStream> ilgpu)
    {
        switch (device)
        {
            case CpuDevice:
                cpu();
                break;
            case IlgpuDevice d:
                ilgpu(d.Stream);
                break;
            default:
                throw new NotSupportedException($"No kernels compiled for device {device.Name}.");
        }
    }

    /// <summary>All tensors on one device, else an error naming both devices.</summary>
    public static Device SameDevice(string op, params Tensor[] tensors)
    {
        Device device = tensors[0].Device;
        foreach (Tensor t in tensors)
            if (!ReferenceEquals(t.Device, device))
                throw new ArgumentException($"{op}: tensors are on different devices ({device.Name} and {t.Device.Name}); move them with To(device).");
        return device;
    }

    /// <summary>The fp32 contiguous form kernels read (a no-op for fp32 contiguous inputs).</summary>
    public static Tensor F32(Tensor t)
    {
        Tensor f = t.DType == DType.Float32 ? t : t.To(DType.Float32);
        return f.Contiguous();
    }

    public static void RequireFloat(string op, Tensor t)
    {
        if (!t.DType.IsFloating()) throw new ArgumentException($"{op} needs a floating tensor, got {t.DType}.");
    }
}
