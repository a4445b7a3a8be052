using MaMA.Engine.Tensors;
using CounterKernels = MaMA.Kernels.Elementwise.Counter;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// counter += delta in place, for contiguous int64 tensors outside autograd (step and batch
    /// counters kept as module buffers), queued on the counter's device without a host round trip.
    /// </summary>
    public static unsafe void AddToCounter(Tensor counter, long delta)
    {
        ArgumentNullException.ThrowIfNull(counter);
        if (counter.DType != DType.Int64 || !counter.IsContiguous)
            throw new ArgumentException($"add_to_counter: the counter must be a contiguous int64 tensor, got {counter.DType}{(counter.IsContiguous ? "" : ", strided")}.", nameof(counter));
        int n = checked((int)counter.Numel);
        if (n == 0) return;
        Dispatch.Run(counter.Device,
            cpu: () =>
            {
                long* p = counter.Ptr<long>();
                for (int i = 0; i < n; i++) p[i] += delta;
            },
            ilgpu: s => CounterKernels.Add.Launch(s, n, counter.View<long>(), delta));
    }
}
