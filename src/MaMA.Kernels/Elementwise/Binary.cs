using ILGPU;

namespace MaMA.Kernels.Elementwise;

/// <summary>
/// Broadcasting binary ops y = a (op) b. <c>meta</c> holds the output shape (rank values), then a's
/// strides, then b's strides (rank values each, in elements, 0 on broadcast dimensions).
/// op: 0 add, 1 subtract, 2 multiply, 3 divide.
/// </summary>
public static partial class Binary
{
    public const int Add = 0;
    public const int Subtract = 1;
    public const int Multiply = 2;
    public const int Divide = 3;

    [Kernel]
    private static void BroadcastKernel(int i, ArrayView<float> a, ArrayView<float> b, [Extent("count")] ArrayView<float> y,
        [Extent("3 * rank")] ArrayView<long> meta, int rank, int op)
    {
        long rest = i, ia = 0, ib = 0;
        for (int d = rank - 1; d >= 0; d--)
        {
            long size = meta[d];
            long coord = rest % size;
            rest /= size;
            ia += coord * meta[rank + d];
            ib += coord * meta[2 * rank + d];
        }
        float va = a[ia], vb = b[ib];
        y[i] = op == 0 ? va + vb : op == 1 ? va - vb : op == 2 ? va * vb : va / vb;
    }

    /// <summary>y = alpha * x + beta (scalar affine map, also scale and shift).</summary>
    [Kernel]
    private static void AffineKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> y, float alpha, float beta)
    {
        y[i] = alpha * x[i] + beta;
    }
}
