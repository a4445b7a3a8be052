using ILGPU;
using AcceleratorStream = ILGPU.Runtime.AcceleratorStream;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Linear;
using MatMulKernels = MaMA.Kernels.Linear.MatMul;

namespace MaMA.Engine;

/// <summary>
/// The fp32 GEMM every ILGPU-side op calls: c [batch][m, n] (contiguous, batch stride m n) =
/// alpha a b + beta c, operands with element strides (batch stride 0 broadcasts). cuBLAS on CUDA when it
/// is loaded (<see cref="CuBlas"/>), else the generated strided kernel (<see cref="MatMulKernels"/>),
/// which is also what the ILGPU CPU simulator and OpenCL run. Queued on <paramref name="stream"/>;
/// the caller synchronises.
/// </summary>
internal static class DeviceGemm
{
    /// <summary>Products run since start: tests of the GEMM forms check with it that a form switch took effect.</summary>
    public static long Calls => Interlocked.Read(ref s_calls);

    private static long s_calls;

    public static void Run(AcceleratorStream stream, Device device, int batch, int m, int n, int k,
        ArrayView<float> a, long aBatch, long aRow, long aCol, ArrayView<float> b, long bBatch, long bRow, long bCol,
        ArrayView<float> c, float beta = 0f, float alpha = 1f)
    {
        if (batch == 0 || m == 0 || n == 0) return;
        Interlocked.Increment(ref s_calls);
        if (CuBlas.TrySgemm(stream, batch, m, n, k, a, aBatch, aRow, aCol, b, bBatch, bRow, bCol, c, (long)m * n, n, alpha, beta)) return;
        using Tensor meta = Dispatch.Meta(device, batch, m, n, k, aBatch, aRow, aCol, bBatch, bRow, bCol);
        MatMulKernels.Strided.Launch(stream, checked(batch * m * n), a, b, c, meta.View<long>(), alpha, beta);
    }
}
