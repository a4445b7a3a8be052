using ILGPU;

namespace MaMA.Kernels.Linear;

/// <summary>
/// Batched C[b] = A[b] @ B[b] with arbitrary element strides, one launch index per output element
/// (C is contiguous [batch, M, N]). Strides make transposed operands free: A^T is A with its row
/// and column strides swapped. <c>meta</c> = [batch, M, N, K, aBatch, aRow, aCol, bBatch, bRow, bCol].
/// This is the portable reference path for accelerators; the fast CPU path is <see cref="Sgemm"/>
/// and tensor-core tiles come with the GPU-speed work.
/// </summary>
public static partial class MatMul
{
    [Kernel(CpuGrain = 256)]
    private static void StridedKernel(int i, ArrayView<float> a, ArrayView<float> b, [Extent("count")] ArrayView<float> c, [Extent("10")] ArrayView<long> meta, float alpha, float beta)
    {
        long m = meta[1], n = meta[2], k = meta[3];
        long col = i % n;
        long row = (i / n) % m;
        long batch = i / (n * m);
        long aBase = batch * meta[4] + row * meta[5];
        long bBase = batch * meta[7] + col * meta[9];
        long aCol = meta[6], bRow = meta[8];
        float sum = 0f;
        for (long kk = 0; kk < k; kk++)
            sum += a[aBase + kk * aCol] * b[bBase + kk * bRow];
        c[i] = alpha * sum + (beta == 0f ? 0f : beta * c[i]);
    }
}
