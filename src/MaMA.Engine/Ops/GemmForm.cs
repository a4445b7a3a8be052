using MaMA.Kernels.Linear;
using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;

namespace MaMA.Engine;

/// <summary>
/// How an op that also has a GEMM form runs on ILGPU devices (the attention forward and backward,
/// SLA, LoRA): its per-row kernels, or batched GEMMs plus element-wise kernels. GPUs take the GEMM
/// form, whose GEMMs are cuBLAS's, the tensor-core GEMM, or without cuBLAS the tiled fp32 GEMM
/// (<see cref="TiledMatMul"/>, not yet timed on a card). Until that kernel existed, OpenCL and CUDA
/// without cuBLAS kept the per-row kernels, whose H200 times were 174 ms (attention forward),
/// 582 ms (its backward) and 419 ms (SLA forward) at MaMA's shapes. The CPU backend has its own code.
/// </summary>
public enum GemmForm
{
    /// <summary>The GEMM form on GPUs (CUDA, OpenCL), the per-row kernels on the CPU simulator (its tests force each).</summary>
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
        _ => stream.Accelerator is not ILGPU.Runtime.CPU.CPUAccelerator,
    };
}
