using Shape = MaMA.Engine.Tensors.Shape;
using TorchTensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Engine.Tests.Ops;

/// <summary>BatchNorm1d's running statistics against torch.nn.functional.batch_norm (training=true updates them in place).</summary>
[TestFixture]
public sealed class BatchNormTests
{
    private static float[] Values(int n, int seed, float low, float high)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(low + (high - low) * rng.NextDouble())).ToArray();
    }

    private static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b, (u, v) => Math.Abs((double)u - v)).Max();

    [TestCase("cpu", new[] { 8, 6 }, 0.1f)]
    [TestCase("cpu", new[] { 3, 5, 11 }, 0.25f)]
    [TestCase("ilgpu-cpu", new[] { 8, 6 }, 0.1f)]
    [TestCase("ilgpu-cpu", new[] { 3, 5, 11 }, 0.25f)]
    public void RunningStatisticsMatchTorchAfterSeveralSteps(string deviceName, int[] shape, float momentum)
    {
        Device device = Device.Parse(deviceName);
        int c = shape[1];
        long[] torchShape = shape.Select(d => (long)d).ToArray();
        using var scope = NewDisposeScope();
        float[] rm0 = Values(c, 10, -1f, 1f), rv0 = Values(c, 11, 0.5f, 2f);
        EngineTensor rm = EngineTensor.FromArray(rm0, [c], device), rv = EngineTensor.FromArray(rv0, [c], device);
        TorchTensor trm = tensor(rm0), trv = tensor(rv0);
        EngineTensor w = EngineTensor.FromArray(Values(c, 12, 0.5f, 1.5f), [c], device);
        EngineTensor b = EngineTensor.FromArray(Values(c, 13, -0.5f, 0.5f), [c], device);
        for (int step = 0; step < 3; step++)
        {
            // Shifted, scaled data so the running statistics move visibly.
            float[] x = Values((int)Shape.Numel(shape), 100 + step, -2f + step, 3f + 2 * step);
            EngineTensor y = EngineOps.BatchNorm1d(EngineTensor.FromArray(x, shape, device), w, b, rm, rv, training: true, momentum: momentum);
            TorchTensor ty = nn.functional.batch_norm(tensor(x, torchShape), trm, trv, tensor(w.ToFloatArray()), tensor(b.ToFloatArray()), training: true, momentum: momentum);
            Assert.That(MaxAbsDiff(y.ToFloatArray(), ty.data<float>().ToArray()), Is.LessThan(1e-5), $"output at step {step}");
            Assert.That(MaxAbsDiff(rm.ToFloatArray(), trm.data<float>().ToArray()), Is.LessThan(1e-5), $"running_mean at step {step}");
            Assert.That(MaxAbsDiff(rv.ToFloatArray(), trv.data<float>().ToArray()), Is.LessThan(1e-4), $"running_var at step {step}");
        }
        Assert.That(rm.ToFloatArray(), Is.Not.EqualTo(rm0), "running_mean was not updated");
    }

    [Test]
    public void EvaluationLeavesRunningStatisticsAlone()
    {
        float[] rm0 = [0.5f, -0.25f], rv0 = [2f, 0.75f];
        var rm = EngineTensor.FromArray(rm0, [2]);
        var rv = EngineTensor.FromArray(rv0, [2]);
        EngineTensor y = EngineOps.BatchNorm1d(EngineTensor.FromArray(new[] { 1f, 2f, 3f, 4f }, [2, 2]), null, null, rm, rv, training: false);
        Assert.That(rm.ToFloatArray(), Is.EqualTo(rm0));
        Assert.That(rv.ToFloatArray(), Is.EqualTo(rv0));
        float[] expected = [(1f - 0.5f) / MathF.Sqrt(2f + 1e-5f), (2f + 0.25f) / MathF.Sqrt(0.75f + 1e-5f), (3f - 0.5f) / MathF.Sqrt(2f + 1e-5f), (4f + 0.25f) / MathF.Sqrt(0.75f + 1e-5f)];
        Assert.That(y.ToFloatArray(), Is.EqualTo(expected).Within(1e-6f));
    }

    [Test]
    public void RejectsBadShapesAndSingleValueTraining()
    {
        var rm = EngineTensor.Zeros([3]);
        var rv = EngineTensor.Ones([3]);
        Assert.Throws<ArgumentException>(() => EngineOps.BatchNorm1d(EngineTensor.Zeros([4, 5]), null, null, rm, rv, training: true));
        Assert.Throws<ArgumentException>(() => EngineOps.BatchNorm1d(EngineTensor.Zeros([1, 3]), null, null, rm, rv, training: true));
        Assert.Throws<ArgumentException>(() => EngineOps.BatchNorm1d(EngineTensor.Zeros([2, 3, 4, 5]), null, null, rm, rv, training: true));
    }
}
