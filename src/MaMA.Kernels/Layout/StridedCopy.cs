using ILGPU;

namespace MaMA.Kernels.Layout;

/// <summary>
/// Gathers a strided view into a contiguous buffer: dst[i] = src[map.At(i).A] (<see cref="IndexMap"/>:
/// the view's first element and strides, in elements). One kernel per element width (1, 2, 4, 8
/// bytes) because copying is dtype-agnostic.
/// </summary>
public static partial class StridedCopy
{
    [Kernel]
    private static void Copy8Kernel(int i, ArrayView<byte> src, [Extent("count")] ArrayView<byte> dst, IndexMap map)
    {
        dst[i] = src[map.At(i).A];
    }

    [Kernel]
    private static void Copy16Kernel(int i, ArrayView<ushort> src, [Extent("count")] ArrayView<ushort> dst, IndexMap map)
    {
        dst[i] = src[map.At(i).A];
    }

    [Kernel]
    private static void Copy32Kernel(int i, ArrayView<uint> src, [Extent("count")] ArrayView<uint> dst, IndexMap map)
    {
        dst[i] = src[map.At(i).A];
    }

    [Kernel]
    private static void Copy64Kernel(int i, ArrayView<ulong> src, [Extent("count")] ArrayView<ulong> dst, IndexMap map)
    {
        dst[i] = src[map.At(i).A];
    }

    /// <summary>
    /// The inverse: writes contiguous <c>src</c> into a strided view of <c>dst</c> (4-byte elements),
    /// dst[map.At(i).A] = src[i]. The view must not overlap itself.
    /// </summary>
    [Kernel]
    private static void Scatter32Kernel(int i, [Extent("count")] ArrayView<uint> src, ArrayView<uint> dst, IndexMap map)
    {
        dst[map.At(i).A] = src[i];
    }

    /// <summary>
    /// <see cref="Scatter32Kernel"/> from bf16: dst[map.At(i).A] = widen(src[i]) into an fp32 view (a
    /// narrow view's bf16 gradient written into its window of the fp32 input gradient in one pass).
    /// </summary>
    [Kernel]
    private static void ScatterBf16ToFloatKernel(int i, [Extent("count")] ArrayView<ushort> src, ArrayView<float> dst, IndexMap map)
    {
        dst[map.At(i).A] = Interop.IntAsFloat((uint)src[i] << 16);
    }
}
