using ILGPU;

namespace MaMA.Kernels.Layout;

/// <summary>
/// Strided-to-strided copy: element i (row-major over the shared shape) of a strided source view is
/// written to the same position of a strided destination view,
/// dst[dstOffset + sum_d idx_d(i) * dstStride_d] = src[srcOffset + sum_d idx_d(i) * srcStride_d].
/// <c>meta</c> holds the shape (rank values), the source strides (rank values) and the destination
/// strides (rank values), in elements. Concatenation writes each input into its window of the
/// output this way, whatever the input's layout (expanded tokens have zero strides), without first
/// materialising the input. One kernel per element width because copying is dtype-agnostic. The
/// destination window must not overlap itself.
/// </summary>
public static partial class WindowCopy
{
    [Kernel]
    private static void Copy8Kernel(int i, ArrayView<byte> src, ArrayView<byte> dst, [Extent("3 * rank")] ArrayView<long> meta, int rank, long srcOffset, long dstOffset)
    {
        dst[ElementIndex(i, meta, rank, 2 * rank, dstOffset)] = src[ElementIndex(i, meta, rank, rank, srcOffset)];
    }

    [Kernel]
    private static void Copy16Kernel(int i, ArrayView<ushort> src, ArrayView<ushort> dst, [Extent("3 * rank")] ArrayView<long> meta, int rank, long srcOffset, long dstOffset)
    {
        dst[ElementIndex(i, meta, rank, 2 * rank, dstOffset)] = src[ElementIndex(i, meta, rank, rank, srcOffset)];
    }

    [Kernel]
    private static void Copy32Kernel(int i, ArrayView<uint> src, ArrayView<uint> dst, [Extent("3 * rank")] ArrayView<long> meta, int rank, long srcOffset, long dstOffset)
    {
        dst[ElementIndex(i, meta, rank, 2 * rank, dstOffset)] = src[ElementIndex(i, meta, rank, rank, srcOffset)];
    }

    [Kernel]
    private static void Copy64Kernel(int i, ArrayView<ulong> src, ArrayView<ulong> dst, [Extent("3 * rank")] ArrayView<long> meta, int rank, long srcOffset, long dstOffset)
    {
        dst[ElementIndex(i, meta, rank, 2 * rank, dstOffset)] = src[ElementIndex(i, meta, rank, rank, srcOffset)];
    }

    /// <summary>
    /// Element index of row-major position <paramref name="i"/> in the view with shape meta[0..rank)
    /// and strides meta[strideStart..strideStart + rank), starting at <paramref name="offset"/>
    /// (innermost axis first).
    /// </summary>
    [DeviceFunction]
    private static long ElementIndex(long i, ArrayView<long> meta, int rank, int strideStart, long offset)
    {
        long rest = i, index = offset;
        for (int d = rank - 1; d >= 0; d--)
        {
            long size = meta[d];
            index += rest % size * meta[strideStart + d];
            rest /= size;
        }
        return index;
    }
}
