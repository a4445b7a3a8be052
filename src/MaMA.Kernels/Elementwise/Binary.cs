using ILGPU;
using MaMA.Kernels.Layout;

namespace MaMA.Kernels.Elementwise;

/// <summary>
/// Broadcasting binary ops y = a (op) b, y contiguous. <c>map</c> gives each output position's
/// element in a (A) and b (B), with stride 0 on broadcast axes (<see cref="IndexMap"/>).
/// op: 0 add, 1 subtract, 2 multiply, 3 divide.
/// </summary>
public static partial class Binary
{
    public const int Add = 0;
    public const int Subtract = 1;
    public const int Multiply = 2;
    public const int Divide = 3;

    [Kernel]
    private static void BroadcastKernel(int i, ArrayView<float> a, ArrayView<float> b, [Extent("count")] ArrayView<float> y, IndexMap map, int op)
    {
        IndexPair at = map.At(i);
        float va = a[at.A], vb = b[at.B];
        y[i] = op == 0 ? va + vb : op == 1 ? va - vb : op == 2 ? va * vb : va / vb;
    }

    /// <summary>
    /// dst[map.At(i).A] += src[i]: a contiguous src added in place into a strided view of dst (the
    /// backward sweep adds a narrowed input's gradient into its window of the full gradient).
    /// </summary>
    [Kernel]
    private static void AddIntoKernel(int i, [Extent("count")] ArrayView<float> src, ArrayView<float> dst, IndexMap map)
    {
        long at = map.At(i).A;
        dst[at] = dst[at] + src[i];
    }

    /// <summary>
    /// dst[map.At(i).A] += widen(src[i]): <see cref="AddIntoKernel"/> for a bf16 gradient (the
    /// backward of a narrow view of a bf16 tensor, such as q, k, v split off an autocast qkv), widened
    /// in the same pass instead of through an fp32 copy.
    /// </summary>
    [Kernel]
    private static void AddIntoBf16Kernel(int i, [Extent("count")] ArrayView<ushort> src, ArrayView<float> dst, IndexMap map)
    {
        long at = map.At(i).A;
        dst[at] = dst[at] + Interop.IntAsFloat((uint)src[i] << 16);
    }

    /// <summary>y = alpha * x + beta (scalar affine map, also scale and shift).</summary>
    [Kernel]
    private static void AffineKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<float> y, float alpha, float beta)
    {
        y[i] = alpha * x[i] + beta;
    }
}
