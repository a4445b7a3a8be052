using ILGPU;

namespace MaMA.Kernels.Layout;

/// <summary>
/// Strided-to-strided copy: element i (row-major over the shared shape) of a strided source view is
/// written to the same position of a strided destination view, dst[map.At(i).B] = src[map.At(i).A]
/// (<see cref="IndexMap"/>: A the source's first element and strides, B the destination's). Concatenation writes each input into its window of the
/// output this way, whatever the input's layout (expanded tokens have zero strides), without first
/// materialising the input. One kernel per element width because copying is dtype-agnostic. The
/// destination window must not overlap itself.
/// </summary>
public static partial class WindowCopy
{
    [Kernel]
    private static void Copy8Kernel(int i, ArrayView<byte> src, ArrayView<byte> dst, IndexMap map)
    {
        IndexPair at = map.At(i);
        dst[at.B] = src[at.A];
    }

    [Kernel]
    private static void Copy16Kernel(int i, ArrayView<ushort> src, ArrayView<ushort> dst, IndexMap map)
    {
        IndexPair at = map.At(i);
        dst[at.B] = src[at.A];
    }

    [Kernel]
    private static void Copy32Kernel(int i, ArrayView<uint> src, ArrayView<uint> dst, IndexMap map)
    {
        IndexPair at = map.At(i);
        dst[at.B] = src[at.A];
    }

    [Kernel]
    private static void Copy64Kernel(int i, ArrayView<ulong> src, ArrayView<ulong> dst, IndexMap map)
    {
        IndexPair at = map.At(i);
        dst[at.B] = src[at.A];
    }
}
