using MaMA.Engine.Autograd;
using MaMA.Training.Config;
using Device = MaMA.Engine.Devices.Device;
using DeviceKind = MaMA.Engine.Devices.DeviceKind;

namespace MaMA.Training.Numerics;

/// <summary>
/// The config's <c>precision</c> as a scope around a micro-batch's forward and backward: "fp32"
/// opens nothing; "bf16" opens <see cref="Autocast.Bf16"/>, so matmuls, LoRA projections,
/// attention and the loss similarities multiply bf16-rounded operands with fp32 accumulation while
/// parameters, gradients and AdamW moments stay fp32 (master weights). Every device runs it: CUDA
/// cards of sm_80 and newer through the bf16 tensor-core kernels; older cards, the fast CPU backend
/// and the ILGPU simulator by rounding the operands to bf16 and multiplying the rounded values in
/// fp32, the same arithmetic, slower than fp32 there (the casts cost time and nothing is gained), so
/// it is meant for testing a bf16 run.
/// </summary>
public static class MixedPrecision
{
    /// <summary>A line for the run's start saying how the step computes on <paramref name="device"/>.</summary>
    public static string Describe(Precision precision, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (precision == Precision.Fp32) return $"precision fp32 on {device.Name}.";
        // A CUDA card older than sm_80 (or MAMA_TENSOR_CORES=off) rounds and widens, as the CPU does.
        return device is Engine.Devices.IlgpuDevice { Kind: DeviceKind.Cuda, RunsTensorCores: true }
            ? $"precision bf16 on {device.Name}: bf16 operands with fp32 accumulation in matmuls, LoRA, attention and loss similarities; fp32 master weights, gradients and AdamW state."
            : $"precision bf16 on {device.Name}: the operands of matmuls, LoRA, attention and loss similarities are rounded to bf16 and multiplied in fp32 " +
              "(the numerics of bf16 tensor cores, slower than fp32 on this device: use it to test a bf16 run, fp32 for speed); fp32 master weights, gradients and AdamW state.";
    }

    /// <summary>The scope to hold around one micro-batch's forward and backward (per thread).</summary>
    public static IDisposable Scope(Precision precision) => precision == Precision.Bf16 ? Autocast.Bf16() : NoScope.Instance;

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose()
        {
        }
    }
}
