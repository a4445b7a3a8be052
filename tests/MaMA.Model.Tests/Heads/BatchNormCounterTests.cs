using MaMA.Engine.Tensors;
using MaMA.Model.Heads;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Tests.Heads;

/// <summary>
/// BatchNorm1d counts its training calls (num_batches_tracked) on the device: on the ILGPU
/// simulator a training forward uploads nothing (before, each call read the count to the host and
/// wrote it back, synchronising the stream twice), and evaluation calls do not count.
/// </summary>
[TestFixture]
[NonParallelizable] // reads a process-wide counter
public sealed class BatchNormCounterTests
{
    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void TrainingCallsCountOnTheDevice(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        var norm = new BatchNorm1d(3, device: device);
        var rng = new Random(1);
        using Tensor x = Tensor.FromArray(Enumerable.Range(0, 12).Select(_ => (float)rng.NextDouble()).ToArray(), [4, 3], device);
        long before = Tensor.DeviceUploads;
        norm.Forward(x).Dispose();
        norm.Forward(x).Dispose();
        Assert.That(Tensor.DeviceUploads - before, Is.Zero);
        Assert.That(norm.NumBatchesTracked, Is.EqualTo(2));
        norm.Eval();
        norm.Forward(x).Dispose();
        Assert.That(norm.NumBatchesTracked, Is.EqualTo(2), "evaluation calls are not counted");
    }
}
