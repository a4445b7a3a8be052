using ILGPU;
using MaMA.Kernels.Random;

namespace MaMA.Kernels.Lora;

/// <summary>
/// LoRA linear, y = x W + b + s * dropout(x) A^T B^T, for accelerators (the portable reference
/// path; the fast CPU path is <see cref="Cpu.LoraSimd"/>). x is contiguous [m, inF], u = dropout(x) A^T
/// is [m, r], A is [r, inF], B is [outF, r], y is [m, outF]. The frozen base weight is read through
/// element strides: w(k, j) = w[k * wRow + j * wCol] (Conv1D [in, out]: wRow = outF, wCol = 1;
/// Linear [out, in]: wRow = 1, wCol = inF).
/// <para>
/// Fusion: the low-rank product enters the base GEMM's epilogue (<see cref="ForwardKernel"/> adds
/// bias and s * u B^T to the dot product it has in hand), and the input gradient adds
/// mask * (du A) the same way. Dropout is the keep-mask of <see cref="Random.Dropout"/> over the
/// flattened x (<see cref="DropoutMask"/>: element e of [m, inF] is lane g % 4 of Philox block g / 4
/// at the stream's offset, g = mask.Base + e, so a data-parallel rank's rows draw the masks they
/// get in the whole batch), regenerated wherever it is needed and never stored. <see cref="DropoutMask.Off"/>
/// turns it off (every element kept, factor 1).
/// </para>
/// </summary>
public static partial class Lora
{
    /// <summary>xd[e] = dropout(x)[e] = x[e] * mask(e) over x flattened to [M, in] (the GEMM form's input to x A^T and du^T x); count = m * inF.</summary>
    [Kernel(CpuGrain = 1024)]
    private static void MaskInputKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> xd,
        DropoutMask mask) =>
        xd[i] = x[i] * mask.Factor(i);

    /// <summary>
    /// xd[e] = x[e] where the mask keeps element e, else 0, on bf16 bits over x flattened to [M, in]:
    /// the tensor-core GEMM form's input to x A^T. Kept values are copied exactly; the mask's scale
    /// 1 / (1 - p) goes into that GEMM's alpha. count = m * inF.
    /// </summary>
    [Kernel(CpuGrain = 1024)]
    private static void MaskInputBf16Kernel(int i, [Extent("count")] ArrayView<ushort> x, [Extent("count")] ArrayView<ushort> xd,
        DropoutMask mask) =>
        xd[i] = mask.Factor(i) != 0f ? x[i] : (ushort)0;

    /// <summary>u[row, t] = sum_k dropout(x)[row, k] A[t, k]; count = m * r.</summary>
    [Kernel(CpuGrain = 16)]
    private static void ProjectKernel(int i, [Extent("(long)count / r * inF")] ArrayView<float> x, [Extent("(long)r * inF")] ArrayView<float> a,
        [Extent("count")] ArrayView<float> u, int inF, int r,
        DropoutMask mask)
    {
        long row = i / r, t = i % r;
        long xBase = row * inF, aBase = t * inF;
        float sum = 0f;
        for (long k = 0; k < inF; k++)
            sum += x[xBase + k] * mask.Factor(xBase + k) * a[aBase + k];
        u[i] = sum;
    }

    /// <summary>
    /// y[row, j] = sum_k x[row, k] w(k, j) + bias[j] + scaling * sum_t u[row, t] B[j, t]; count = m * outF.
    /// inF = 0 leaves out the x w term (cuBLAS adds it afterwards, <see cref="Linear.CuBlas"/>).
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void ForwardKernel(int i, [Extent("(long)count / outF * inF")] ArrayView<float> x, ArrayView<float> w,
        [Extent("hasBias != 0 ? outF : 0")] ArrayView<float> bias, [Extent("(long)count / outF * r")] ArrayView<float> u,
        [Extent("(long)outF * r")] ArrayView<float> b, [Extent("count")] ArrayView<float> y,
        int inF, int outF, int r, long wRow, long wCol, int hasBias, float scaling)
    {
        long row = i / outF, j = i % outF;
        long xBase = row * inF, wBase = j * wCol;
        float sum = 0f;
        for (long k = 0; k < inF; k++) sum += x[xBase + k] * w[wBase + k * wRow];
        float low = 0f;
        for (long t = 0; t < r; t++) low += u[row * r + t] * b[j * r + t];
        y[i] = sum + (hasBias != 0 ? bias[j] : 0f) + scaling * low;
    }

    /// <summary>du[row, t] = scaling * sum_j dy[row, j] B[j, t]; count = m * r.</summary>
    [Kernel(CpuGrain = 16)]
    private static void GradUKernel(int i, [Extent("(long)count / r * outF")] ArrayView<float> dy, [Extent("(long)outF * r")] ArrayView<float> b,
        [Extent("count")] ArrayView<float> du, int outF, int r, float scaling)
    {
        long row = i / r, t = i % r;
        float sum = 0f;
        for (long j = 0; j < outF; j++) sum += dy[row * outF + j] * b[j * r + t];
        du[i] = scaling * sum;
    }

    /// <summary>dB[j, t] = scaling * sum_row dy[row, j] u[row, t]; count = outF * r.</summary>
    [Kernel(CpuGrain = 16)]
    private static void GradBKernel(int i, [Extent("(long)m * outF")] ArrayView<float> dy, [Extent("(long)m * r")] ArrayView<float> u,
        [Extent("count")] ArrayView<float> db, int m, int outF, int r, float scaling)
    {
        long j = i / r, t = i % r;
        float sum = 0f;
        for (long row = 0; row < m; row++) sum += dy[row * outF + j] * u[row * r + t];
        db[i] = scaling * sum;
    }

    /// <summary>dbias[j] = sum_row dy[row, j]; count = outF.</summary>
    [Kernel(CpuGrain = 64)]
    private static void GradBiasKernel(int j, [Extent("(long)m * outF")] ArrayView<float> dy, [Extent("count")] ArrayView<float> dbias, int m, int outF)
    {
        float sum = 0f;
        for (long row = 0; row < m; row++) sum += dy[row * outF + j];
        dbias[j] = sum;
    }

    /// <summary>dA[t, k] = sum_row du[row, t] dropout(x)[row, k]; count = r * inF.</summary>
    [Kernel(CpuGrain = 16)]
    private static void GradAKernel(int i, [Extent("(long)m * r")] ArrayView<float> du, [Extent("(long)m * inF")] ArrayView<float> x,
        [Extent("count")] ArrayView<float> da, int m, int inF, int r,
        DropoutMask mask)
    {
        long t = i / inF, k = i % inF;
        float sum = 0f;
        for (long row = 0; row < m; row++)
        {
            long e = row * inF + k;
            sum += du[row * r + t] * x[e] * mask.Factor(e);
        }
        da[i] = sum;
    }

    /// <summary>
    /// dx[row, k] = sum_j dy[row, j] w(k, j) + mask(row, k) * sum_t du[row, t] A[t, k]; count = m * inF.
    /// outF = 0 leaves out the dy w^T term (cuBLAS adds it afterwards).
    /// </summary>
    [Kernel(CpuGrain = 64)]
    private static void GradInputKernel(int i, [Extent("(long)count / inF * outF")] ArrayView<float> dy, ArrayView<float> w,
        [Extent("(long)count / inF * r")] ArrayView<float> du, [Extent("(long)r * inF")] ArrayView<float> a, [Extent("count")] ArrayView<float> dx,
        int inF, int outF, int r, long wRow, long wCol,
        DropoutMask mask)
    {
        long row = i / inF, k = i % inF;
        long dyBase = row * outF, wBase = k * wRow;
        float sum = 0f;
        for (long j = 0; j < outF; j++) sum += dy[dyBase + j] * w[wBase + j * wCol];
        float low = 0f;
        for (long t = 0; t < r; t++) low += du[row * r + t] * a[t * inF + k];
        dx[i] = sum + mask.Factor(i) * low;
    }

    /// <summary>
    /// w += alpha * delta with delta(k, j) = sum_t B[j, t] A[t, k], over w's storage: Conv1D
    /// (<paramref name="conv1D"/> != 0) element i is (k = i / outF, j = i % outF), Linear it is
    /// (j = i / inF, k = i % inF); count = inF * outF. alpha = +scaling merges, -scaling unmerges.
    /// </summary>
    [Kernel(CpuGrain = 1024)]
    private static void MergeKernel(int i, [Extent("count")] ArrayView<float> w, [Extent("(long)r * inF")] ArrayView<float> a,
        [Extent("(long)outF * r")] ArrayView<float> b, int inF, int outF, int r, int conv1D, float alpha)
    {
        long k = conv1D != 0 ? i / outF : i % inF;
        long j = conv1D != 0 ? i % outF : i / inF;
        float delta = 0f;
        for (long t = 0; t < r; t++) delta += b[j * r + t] * a[t * inF + k];
        w[i] += alpha * delta;
    }
}
