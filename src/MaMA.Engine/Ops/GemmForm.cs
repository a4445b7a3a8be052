using MaMA.Kernels.Linear;
using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using CudaStream = ILGPU.Runtime.Cuda.CudaStream;

namespace MaMA.Engine;

/// <summary>
/// How an op that also has a GEMM form runs on ILGPU devices (the attention backward, SLA): its
/// per-row kernels, or batched GEMMs plus element-wise kernels. The GEMM form pays off where the
/// GEMMs are cuBLAS's; elsewhere the per-row kernels stay (the CPU backend has its own code).
/// </summary>
public enum GemmForm
{
    /// <summary>The GEMM form on CUDA when cuBLAS is loaded, the per-row kernels elsewhere.</summary>
    Auto,
    /// <summary>Always the per-row kernels.</summary>
    Kernels,
    /// <summary>Always the GEMM form (with the generated GEMM where cuBLAS is not loaded): how tests check it on the simulator.</summary>
    Gemm,
}

internal static class GemmFormExtensions
{
    /// <summary>Whether <paramref name="form"/> means the GEMM form for work queued on <paramref name="stream"/>.</summary>
    public static bool UsesGemm(this GemmForm form, AcceleratorStream stream) => form switch
    {
        GemmForm.Gemm => true,
        GemmForm.Kernels => false,
        _ => stream is CudaStream && CuBlas.IsAvailable,
    };
}
