using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Core;

/// <summary>
/// Ops give their own temporaries (widened copies, batched views, per-batch products) back to the
/// allocator before they return, instead of leaving them to the finalizer: what stays allocated
/// after the op is its result. Temporaries that waited for the garbage collector made the caching
/// allocator collect more often (docs/gpu-kernels.md).
/// </summary>
[TestFixture]
[NonParallelizable] // reads the device's allocator counters
public sealed class TemporaryReleaseTests
{
    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void Bf16MatMulOfATransposedOperandKeepsOnlyItsResult(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        using Tensor a = Bf16(Values(64 * 96, 1), [64, 96], device), b = Bf16(Values(80 * 96, 2), [80, 96], device);
        long before = device.AllocatedBytes;
        using (GradMode.NoGrad())
        {
            Tensor c = EngineOps.MatMul(a, b, transposeB: true);
            Assert.That(device.AllocatedBytes - before, Is.EqualTo(CachingAllocatorSize(c)), "only the [64, 80] fp32 result stays");
        }
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void BroadcastBatchMatMulBackwardKeepsOnlyTheGradients(string deviceName)
    {
        // b [6, 5] is shared by 4 batches: its gradient sums 4 per-batch products, which are temporaries.
        Device device = Device.Parse(deviceName);
        using Tensor a = Tensor.FromArray(Values(4 * 3 * 6, 3), [4, 3, 6], device), b = Tensor.FromArray(Values(6 * 5, 4), [6, 5], device);
        a.RequiresGrad = true;
        b.RequiresGrad = true;
        using Tensor upstream = Tensor.FromArray(Values(4 * 3 * 5, 5), [4, 3, 5], device);
        Tensor c = EngineOps.MatMul(a, b);
        long before = device.AllocatedBytes;
        c.Backward(upstream);
        long kept = device.AllocatedBytes - before;
        Assert.That(kept, Is.EqualTo(CachingAllocatorSize(a.Grad!) + CachingAllocatorSize(b.Grad!)), "only dA and dB stay");
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void NarrowBackwardReleasesItsWindowView(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        using Tensor x = Tensor.FromArray(Values(8 * 6, 6), [8, 6], device);
        x.RequiresGrad = true;
        Tensor slice = x.Narrow(1, 2, 3);
        using Tensor upstream = Tensor.FromArray(Values(8 * 3, 7), [8, 3], device);
        slice.Backward(upstream);
        Tensor grad = x.Grad!;
        long withGrad = device.AllocatedBytes;
        grad.Dispose();
        // The window view into dx held a reference to its storage: before, dx's block stayed allocated after dx was disposed.
        Assert.That(withGrad - device.AllocatedBytes, Is.EqualTo(CachingAllocatorSize(grad)), "disposing dx returns its block at once");
    }

    private static long CachingAllocatorSize(Tensor t) => Memory.CachingAllocator<object>.RoundSize(t.Numel * t.DType.Size());

    private static Tensor Bf16(float[] values, int[] shape, Device device)
    {
        using Tensor f = Tensor.FromArray(values, shape, device);
        return f.To(DType.BFloat16);
    }

    private static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }
}
