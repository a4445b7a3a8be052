using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using CudaStream = ILGPU.Runtime.Cuda.CudaStream;

namespace MaMA.Engine;

/// <summary>
/// How a row-wise op (layer norm, the GEMM-form attention's softmax rows) runs on ILGPU devices: one thread per row (the generated
/// kernels; any device), or one 32-lane warp per row (coalesced loads and shuffle reductions; CUDA,
/// and the CPU simulator's 32-lane companion).
/// </summary>
public enum RowForm
{
    /// <summary>A warp per row on CUDA, a thread per row elsewhere.</summary>
    Auto,
    /// <summary>Always a thread per row.</summary>
    Thread,
    /// <summary>Always a warp per row: how tests check the warp kernels on the simulator.</summary>
    Warp,
}

internal static class RowFormExtensions
{
    /// <summary>Whether <paramref name="form"/> means a warp per row for work queued on <paramref name="stream"/>.</summary>
    public static bool UsesWarp(this RowForm form, AcceleratorStream stream) => form switch
    {
        RowForm.Warp => true,
        RowForm.Thread => false,
        _ => stream is CudaStream,
    };
}
