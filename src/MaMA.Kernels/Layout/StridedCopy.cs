using ILGPU;

namespace MaMA.Kernels.Layout;

/// <summary>
/// Gathers a strided view into a contiguous buffer: dst[i] = src[srcOffset + sum_d idx_d(i) * stride_d].
/// <c>meta</c> holds the view's shape (rank values) then its strides (rank values), in elements.
/// One kernel per element width (1, 2, 4, 8 bytes) because copying is dtype-agnostic.
/// </summary>
public static partial class StridedCopy
{
    [Kernel]
    private static void Copy8Kernel(int i, ArrayView<byte> src, [Extent("count")] ArrayView<byte> dst, [Extent("2 * rank")] ArrayView<long> meta, int rank, long srcOffset)
    {
        dst[i] = src[StridedIndex(i, meta, rank, srcOffset)];
    }

    [Kernel]
    private static void Copy16Kernel(int i, ArrayView<ushort> src, [Extent("count")] ArrayView<ushort> dst, [Extent("2 * rank")] ArrayView<long> meta, int rank, long srcOffset)
    {
        dst[i] = src[StridedIndex(i, meta, rank, srcOffset)];
    }

    [Kernel]
    private static void Copy32Kernel(int i, ArrayView<uint> src, [Extent("count")] ArrayView<uint> dst, [Extent("2 * rank")] ArrayView<long> meta, int rank, long srcOffset)
    {
        dst[i] = src[StridedIndex(i, meta, rank, srcOffset)];
    }

    [Kernel]
    private static void Copy64Kernel(int i, ArrayView<ulong> src, [Extent("count")] ArrayView<ulong> dst, [Extent("2 * rank")] ArrayView<long> meta, int rank, long srcOffset)
    {
        dst[i] = src[StridedIndex(i, meta, rank, srcOffset)];
    }

    /// <summary>
    /// The inverse: writes contiguous <c>src</c> into a strided view of <c>dst</c> (4-byte elements),
    /// dst[dstOffset + sum_d idx_d(i) * stride_d] = src[i]. The view must not overlap itself.
    /// </summary>
    [Kernel]
    private static void Scatter32Kernel(int i, [Extent("count")] ArrayView<uint> src, ArrayView<uint> dst, [Extent("2 * rank")] ArrayView<long> meta, int rank, long dstOffset)
    {
        dst[StridedIndex(i, meta, rank, dstOffset)] = src[i];
    }

    /// <summary>
    /// Element index of row-major position <paramref name="i"/> in a view with shape meta[0..rank)
    /// and strides meta[rank..2 rank), starting at <paramref name="offset"/>: the index is
    /// decomposed innermost axis first.
    /// </summary>
    [DeviceFunction]
    private static long StridedIndex(long i, ArrayView<long> meta, int rank, long offset)
    {
        long rest = i, index = offset;
        for (int d = rank - 1; d >= 0; d--)
        {
            long size = meta[d];
            index += rest % size * meta[rank + d];
            rest /= size;
        }
        return index;
    }
}
