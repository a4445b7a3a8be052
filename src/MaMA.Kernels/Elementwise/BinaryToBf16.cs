using ILGPU;
using MaMA.Kernels.Layout;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Elementwise;

public static partial class Binary
{
    /// <summary>
    /// y16[i] = bf16(a[map.At(i).A] + b[map.At(i).B]): the broadcast add with its sum rounded to bf16
    /// in the same pass, for a bf16-autocast output whose consumer would round it anyway (the ViT's
    /// biased, head-split qkv, which attention reads in bf16).
    /// </summary>
    [Kernel]
    private static void AddToBFloat16Kernel(int i, ArrayView<float> a, ArrayView<float> b, [Extent("count")] ArrayView<ushort> y16, IndexMap map)
    {
        IndexPair at = map.At(i);
        y16[i] = Bf16.FromFloat(a[at.A] + b[at.B]);
    }
}
