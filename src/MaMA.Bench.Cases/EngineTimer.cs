using System.Diagnostics;
using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// Times one engine computation forward or forward+backward: inputs and the upstream gradient (ones
/// of the output's shape) are made before the clock starts, garbage is collected and the device
/// synchronised before it, the device synchronised after, and every tensor is disposed afterwards so the caching allocator reuses memory as a
/// training step would. <see cref="Median"/> runs one warm-up (JIT, kernel loading, allocator
/// caches) and returns the median of the timed runs.
/// </summary>
public static class EngineTimer
{
    /// <summary>Seconds of one run.</summary>
    /// <param name="makeInput">Input i as a fresh leaf tensor on <paramref name="device"/>.</param>
    /// <param name="differentiable">Per input: whether the backward asks for its gradient.</param>
    public static double Time(Device device, Func<Tensor[], Tensor> engine, Func<int, Tensor> makeInput, IReadOnlyList<bool> differentiable, bool backward)
    {
        Tensor[] inputs = differentiable.Select((d, i) =>
        {
            Tensor t = makeInput(i);
            if (backward && d) t.RequiresGrad = true;
            return t;
        }).ToArray();
        Tensor? seed = null;
        if (backward)
            using (GradMode.NoGrad())
            {
                Tensor probe = engine(inputs);
                seed = Tensor.Full(probe.Shape, 1f, device);
                probe.Dispose();
            }
        // Garbage of earlier runs (tensors waiting for the finalizer) goes back to the allocator's
        // cache before the clock, so the timed run does not pay for a collection it did not cause:
        // the suspect for the third H200 run's 0.27 ms and 40.6 ms for the same bf16 attention forward.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        device.Synchronize();
        var sw = Stopwatch.StartNew();
        Tensor y = engine(inputs);
        if (backward && y.RequiresGrad) y.Backward(seed);
        device.Synchronize();
        double seconds = sw.Elapsed.TotalSeconds;
        seed?.Dispose();
        y.Dispose();
        foreach (Tensor t in inputs)
        {
            t.Grad?.Dispose();
            t.Dispose();
        }
        return seconds;
    }

    /// <summary>Median seconds of <paramref name="repeat"/> runs after one warm-up.</summary>
    public static double Median(int repeat, Func<double> run)
    {
        run();
        double[] times = Enumerable.Range(0, repeat).Select(_ => run()).Order().ToArray();
        return times[times.Length / 2];
    }
}
