using ILGPU;
using ILGPU.Runtime;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Linear;
using MaMA.Kernels.TensorCore;
using MatMulKernels = MaMA.Kernels.Linear.MatMul;

namespace MaMA.Engine;

/// <summary>
/// The GEMMs every ILGPU-side op calls: c [batch][m, n] (fp32, contiguous, batch stride m n) =
/// alpha a b + beta c, operands with element strides (batch stride 0 broadcasts). Queued on the
/// stream; the caller synchronises.
/// <list type="bullet">
/// <item><see cref="Run"/>: fp32 operands. cuBLAS on CUDA when it is loaded (<see cref="CuBlas"/>),
/// else on a GPU (OpenCL, CUDA without cuBLAS) the tiled kernel (<see cref="TiledMatMul"/>), and on
/// the ILGPU CPU simulator the per-output strided kernel (<see cref="MatMulKernels"/>; <see cref="TiledFp32"/>).</item>
/// <item><see cref="RunBf16"/>: bf16 operands, fp32 accumulation. cuBLAS's bf16 GEMM when it is
/// loaded, else the tensor-core kernel (<see cref="TensorCoreGemm"/>; CUDA, or its mma emulation on
/// the simulator). Only where <see cref="Ops.UsesTensorCores"/> holds.</item>
/// </list>
/// </summary>
internal static class DeviceGemm
{
    /// <summary>Products run since start: tests of the GEMM forms check with it that a form switch took effect.</summary>
    public static long Calls => Interlocked.Read(ref s_calls);

    /// <summary>bf16 products run since start (<see cref="RunBf16"/>): tests check with it which precision a backward used.</summary>
    public static long Bf16Calls => Interlocked.Read(ref s_bf16Calls);

    private static long s_calls, s_bf16Calls;

    public static void Run(AcceleratorStream stream, int batch, int m, int n, int k,
        ArrayView<float> a, long aBatch, long aRow, long aCol, ArrayView<float> b, long bBatch, long bRow, long bCol,
        ArrayView<float> c, float beta = 0f, float alpha = 1f)
    {
        if (batch == 0 || m == 0 || n == 0) return;
        Interlocked.Increment(ref s_calls);
        if (CuBlas.TrySgemm(stream, batch, m, n, k, a, aBatch, aRow, aCol, b, bBatch, bRow, bCol, c, (long)m * n, n, alpha, beta)) return;
        var args = new MatMulArgs
        {
            Batch = batch, M = m, N = n, K = k,
            ABatch = aBatch, ARow = aRow, ACol = aCol, BBatch = bBatch, BRow = bRow, BCol = bCol,
            Alpha = alpha, Beta = beta,
        };
        if (UsesTiled(stream.Accelerator) && TiledMatMul.Fits(args))
        {
            Interlocked.Increment(ref s_tiledCalls);
            TiledMatMul.Launch(stream, a, b, c, args);
            return;
        }
        MatMulKernels.Strided.Launch(stream, checked(batch * m * n), a, b, c, args);
    }

    /// <summary>
    /// Which generated kernel takes the fp32 products cuBLAS does not: null (the default) picks the
    /// tiled one (<see cref="TiledMatMul"/>) on GPUs, OpenCL and CUDA without cuBLAS, and the
    /// per-output one on the CPU simulator, where many tests' products run and the tiled kernel's
    /// own tests check it; true or false forces one (process-wide; tests).
    /// </summary>
    public static bool? TiledFp32 { get; set; }

    /// <summary>fp32 products the tiled kernel ran since start.</summary>
    public static long TiledCalls => Interlocked.Read(ref s_tiledCalls);

    private static long s_tiledCalls;

    private static bool UsesTiled(Accelerator accelerator) =>
        (TiledFp32 ?? accelerator is not ILGPU.Runtime.CPU.CPUAccelerator) && TiledMatMul.Target(accelerator) is not null;

    /// <summary>As <see cref="Run"/> for bf16 operands (ushort bits): cuBLAS's bf16 GEMM, else the tensor-core kernel.</summary>
    public static void RunBf16(AcceleratorStream stream, int batch, int m, int n, int k,
        ArrayView<ushort> a, long aBatch, long aRow, long aCol, ArrayView<ushort> b, long bBatch, long bRow, long bCol,
        ArrayView<float> c, float beta = 0f, float alpha = 1f)
    {
        if (batch == 0 || m == 0 || n == 0) return;
        Interlocked.Increment(ref s_bf16Calls);
        if (CuBlas.TryBf16Gemm(stream, batch, m, n, k, a, aBatch, aRow, aCol, b, bBatch, bRow, bCol, c, (long)m * n, n, alpha, beta)) return;
        var p = new GemmArgs
        {
            M = m, N = n, K = k, Batch = batch,
            ABatch = aBatch, ARow = aRow, ACol = aCol,
            BBatch = bBatch, BRow = bRow, BCol = bCol,
            CBatch = (long)m * n, Ldc = n, Alpha = alpha, Beta = beta,
            AKFast = UnitStrideFirst(aCol, aRow), BKFast = UnitStrideFirst(bRow, bCol),
        };
        TensorCoreGemm.Launch(stream, a, b, c, p);
    }

    /// <summary>1 when the k axis (stride <paramref name="kStride"/>) should be the fastest on loads: it is unit-stride, or the other axis is not.</summary>
    private static int UnitStrideFirst(long kStride, long otherStride) => kStride == 1 || otherStride != 1 ? 1 : 0;
}
