using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Where warp-level tensor-core kernels run when the device is the ILGPU CPU simulator. The
/// engine's simulator uses ILGPU's default CPU geometry (warp size 4, at most 16 threads per
/// group), which cannot host the 32-lane warps the mma fragment layout is defined for; this
/// companion CPU accelerator simulates an NVIDIA-like geometry (32 lanes per warp, 8 warps per
/// group) in the same context. CPU accelerator buffers are plain host memory, so views of the
/// engine's simulator buffers are valid here too; launches are synchronous on both.
/// </summary>
public static class WarpSimulator
{
    /// <summary>Warps per simulated group: 8 x 32 = 256 threads, the GEMM's group size.</summary>
    public const int WarpsPerGroup = 8;

    private static readonly ConditionalWeakTable<Context, CPUAccelerator> s_accelerators = new();

    /// <summary>
    /// The accelerator to launch a warp-32 kernel on for data on <paramref name="accelerator"/>:
    /// itself when its warp is 32 lanes wide (CUDA, or a CPU simulator built that way), else the
    /// companion simulator of its context.
    /// </summary>
    public static Accelerator For(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (accelerator.WarpSize == MmaLayout.WarpSize && accelerator.MaxNumThreadsPerGroup >= TensorCoreGemm.Threads) return accelerator;
        if (accelerator.AcceleratorType != AcceleratorType.CPU)
            throw new NotSupportedException(
                $"Tensor-core kernels need 32-lane warps; {accelerator.Name} has {accelerator.WarpSize} (use CUDA or the ILGPU CPU simulator).");
        lock (s_accelerators)
            return s_accelerators.GetValue(accelerator.Context,
                context => new CPUDevice(MmaLayout.WarpSize, WarpsPerGroup, 1).CreateCPUAccelerator(context));
    }
}
