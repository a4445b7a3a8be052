using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Which accelerators run the tensor-core kernels. Their inline PTX needs compute capability 8.0
/// (Ampere) or newer: <c>mma.sync ... .bf16</c>, <c>cvt.rn.bf16x2.f32</c> and <c>cp.async</c> are
/// sm_80 instructions. ILGPU writes PTX for the card's own architecture (<c>.target sm_75</c> on a
/// T4), so on an older card the driver's JIT would refuse the module at load; the engine keeps such
/// cards (T4, V100, the GTX 10 and RTX 20 series) on the fp32 kernels instead, as it does OpenCL.
/// The CPU simulator emulates the instructions, so it qualifies unless <see cref="Disabled"/>.
/// </summary>
public static class TensorCoreSupport
{
    /// <summary>The oldest architecture with bf16 mma.sync and cp.async.</summary>
    public static readonly CudaArchitecture MinimumArchitecture = CudaArchitecture.SM_80;

    /// <summary>
    /// Process-wide: route every accelerator as a pre-Ampere card, bf16 work on the fp32 kernels.
    /// Set by <c>MAMA_TENSOR_CORES=off</c> at start (to compare a card's numbers without the
    /// tensor cores, as <c>MAMA_CUBLAS=off</c> does for cuBLAS); tests set it to run the older cards'
    /// route on the simulator.
    /// </summary>
    public static bool Disabled { get; set; } =
        string.Equals(Environment.GetEnvironmentVariable("MAMA_TENSOR_CORES"), "off", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the tensor-core kernels run on <paramref name="accelerator"/>: CUDA at sm_80 or newer, or the CPU simulator.</summary>
    public static bool Available(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (Disabled) return false;
        return accelerator switch
        {
            CudaAccelerator cuda => Supports(cuda.Architecture),
            CPUAccelerator => true,
            _ => false,
        };
    }

    /// <summary>Whether a CUDA card of <paramref name="architecture"/> (null: one ILGPU does not know) has the instructions.</summary>
    public static bool Supports(CudaArchitecture? architecture) => architecture is { } a && a >= MinimumArchitecture;

    /// <summary>One line for <c>mama devices</c>: whether bf16 products, attention and the losses' similarities use the tensor cores.</summary>
    public static string Describe(CudaArchitecture? architecture) => !Supports(architecture)
        ? $"no bf16 tensor-core kernels ({Name(architecture)}; they need sm_80, Ampere, or newer): bf16 work runs on the fp32 kernels"
        : Disabled
            ? $"bf16 tensor cores ({Name(architecture)}) off (MAMA_TENSOR_CORES=off): bf16 work runs on the fp32 kernels"
            : $"bf16 tensor cores (mma.sync, {Name(architecture)})";

    /// <summary>
    /// Refuses to load a tensor-core kernel for a card below sm_80, with the reason, where the
    /// driver would otherwise fail on the PTX with an opaque JIT error.
    /// </summary>
    public static void Require(CudaAccelerator accelerator, string kernel)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (!Supports(accelerator.Architecture))
            throw new NotSupportedException(
                $"{kernel}: the tensor-core kernels need compute capability 8.0 (Ampere) or newer; {accelerator.Name} is {Name(accelerator.Architecture)}. " +
                "The engine's ops take the fp32 kernels on such cards; this kernel was called directly.");
    }

    private static string Name(CudaArchitecture? architecture) =>
        architecture is { } a ? $"sm_{a.Major}{a.Minor}" : "an architecture ILGPU does not know";
}
