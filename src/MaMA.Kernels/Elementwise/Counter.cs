using ILGPU;

namespace MaMA.Kernels.Elementwise;

/// <summary>
/// x[i] += delta on int64 counters in device memory (BatchNorm's num_batches_tracked): the count
/// stays on the device, where reading it to the host and writing it back synchronised the stream
/// twice per call.
/// </summary>
public static partial class Counter
{
    [Kernel]
    private static void AddKernel(int i, [Extent("count")] ArrayView<long> x, long delta)
    {
        x[i] += delta;
    }
}
