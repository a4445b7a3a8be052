using System.Runtime.InteropServices;
using ILGPU;

namespace MaMA.Kernels.Linear;

/// <summary>
/// Shape and element strides of one strided batched product (a kernel argument, passed by value):
/// A[z](m, k) = a[z ABatch + m ARow + k ACol], B[z](k, n) = b[z BBatch + k BRow + n BCol], C
/// contiguous [Batch, M, N]; C = Alpha A B + Beta C.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct MatMulArgs
{
    public int Batch, M, N, K;
    public long ABatch, ARow, ACol;
    public long BBatch, BRow, BCol;
    public float Alpha, Beta;
}

/// <summary>
/// Batched C[b] = A[b] @ B[b] with arbitrary element strides, one launch index per output element
/// (C is contiguous [batch, M, N]). Strides make transposed operands free: A^T is A with its row
/// and column strides swapped. This is the portable reference path for accelerators without
/// cuBLAS (the ILGPU CPU simulator, OpenCL); the fast CPU path is <see cref="Sgemm"/>, CUDA's is
/// cuBLAS or the tensor-core GEMM.
/// </summary>
public static partial class MatMul
{
    [Kernel(CpuGrain = 256)]
    private static void StridedKernel(int i, ArrayView<float> a, ArrayView<float> b, [Extent("count")] ArrayView<float> c, MatMulArgs p)
    {
        // count = Batch M N < 2^31, so the position splits in 32-bit arithmetic.
        int col = i % p.N;
        int rowAll = i / p.N;
        int row = rowAll % p.M;
        int batch = rowAll / p.M;
        long aBase = batch * p.ABatch + row * p.ARow;
        long bBase = batch * p.BBatch + col * p.BCol;
        float sum = 0f;
        for (int kk = 0; kk < p.K; kk++)
            sum += a[aBase + kk * p.ACol] * b[bBase + kk * p.BRow];
        c[i] = p.Alpha * sum + (p.Beta == 0f ? 0f : p.Beta * c[i]);
    }
}
