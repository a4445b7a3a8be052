using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using TorchSharp;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace MaMA.Engine.Tests.Optim;

/// <summary>GradClip.ClipGradNorm against torch.nn.utils.clip_grad_norm_ (L2).</summary>
[TestFixture]
public sealed class GradClipTests
{
    private static readonly string[] Devices = ["cpu", "ilgpu-cpu"];

    public static IEnumerable<TestCaseData> Cases() =>
        from device in Devices
        from maxNorm in new[] { 0.5f, 1e4f }
        select new TestCaseData(device, maxNorm).SetName($"ClipGradNormMatchesTorch [{device}, max {maxNorm}]");

    [TestCaseSource(nameof(Cases))]
    public void ClipGradNormMatchesTorch(string deviceName, float maxNorm)
    {
        Device device = Device.Parse(deviceName);
        int[][] shapes = [[7, 5], [13], [5], [3, 4], [70_001]]; // the last spans several CPU chunks and GPU items
        var rng = new Random(21);
        float[][] grads = shapes.Select(s => OptimTestData.Normal(rng, s, 0.3f)).ToArray();

        Parameter[] mine = shapes.Select((s, i) => new Parameter(EngineTensor.Zeros(s, device: device), $"p{i}")).ToArray();
        for (int i = 0; i < mine.Length; i++) mine[i].Grad = EngineTensor.FromArray(grads[i], shapes[i], device);
        var frozen = new Parameter(EngineTensor.Zeros([3], device: device), "no_grad"); // no Grad: ignored

        TorchParameter[] theirs = shapes.Select(s => new TorchParameter(torch.zeros(s.Select(d => (long)d).ToArray()))).ToArray();
        for (int i = 0; i < theirs.Length; i++) OptimTestData.SetTorchGrad(theirs[i], grads[i], shapes[i]);

        float norm = GradClip.ClipGradNorm(mine.Append(frozen), maxNorm);
        double expectedNorm = torch.nn.utils.clip_grad_norm_(theirs, maxNorm);

        Assert.That(Math.Abs(norm - expectedNorm) / expectedNorm, Is.LessThanOrEqualTo(1e-6), "total norm");
        Assert.That(frozen.Grad, Is.Null);
        bool clipped = expectedNorm > maxNorm;
        for (int i = 0; i < mine.Length; i++)
        {
            float[] expected = theirs[i].grad!.contiguous().data<float>().ToArray();
            OptimTestData.AssertClose(mine[i].Grad!.ToArray<float>(), expected, 1e-6, $"grad {i} on {deviceName}");
            if (!clipped) Assert.That(mine[i].Grad!.ToArray<float>(), Is.EqualTo(grads[i]), "below the limit nothing changes");
        }
        if (clipped) Assert.That(GradClip.GradNorm(mine), Is.EqualTo(maxNorm).Within(1e-5 * maxNorm), "norm after clipping");
    }

    [TestCaseSource(nameof(Devices))]
    public void NonFiniteNormIsReturnedAndNothingIsScaled(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        var a = new Parameter(EngineTensor.Zeros([3], device: device), "a");
        var b = new Parameter(EngineTensor.Zeros([10_000], device: device), "b");
        float[] bg = Enumerable.Range(0, 10_000).Select(i => (float)i).ToArray();
        b.Grad = EngineTensor.FromArray(bg, [10_000], device);

        a.Grad = EngineTensor.FromArray(new[] { 1f, float.PositiveInfinity, 2f }, [3], device);
        Assert.That(GradClip.ClipGradNorm([a, b], 1f), Is.EqualTo(float.PositiveInfinity));
        Assert.That(b.Grad.ToArray<float>(), Is.EqualTo(bg), "not scaled");

        bg[5000] = float.PositiveInfinity; // infinity in the middle of a long run stays infinity
        b.Grad = EngineTensor.FromArray(bg, [10_000], device);
        a.Grad = EngineTensor.FromArray(new[] { 1f, 2f, 3f }, [3], device);
        Assert.That(GradClip.ClipGradNorm([a, b], 1f), Is.EqualTo(float.PositiveInfinity));

        a.Grad = EngineTensor.FromArray(new[] { 1f, float.NaN, 2f }, [3], device);
        Assert.That(float.IsNaN(GradClip.ClipGradNorm([a, b], 1f)));
        Assert.That(a.Grad.ToArray<float>()[0], Is.EqualTo(1f), "not scaled");
    }

    [Test]
    public void NoGradientsGiveZero()
    {
        var p = new Parameter(EngineTensor.Zeros([4]), "p");
        Assert.That(GradClip.ClipGradNorm([p], 1f), Is.EqualTo(0f));
    }

    [TestCaseSource(nameof(Devices))]
    public void LeavesSharingAnUpstreamGradientAreEachScaledOnce(string deviceName)
    {
        // c = a + b hands the same dy to both leaves; their Grads must not alias, or an in-place
        // clip would scale the shared buffer twice.
        Device device = Device.Parse(deviceName);
        var a = new Parameter(EngineTensor.Zeros([2], device: device), "a");
        var b = new Parameter(EngineTensor.Zeros([2], device: device), "b");
        EngineTensor c = global::MaMA.Engine.Ops.Add(a, b);
        c.Backward(EngineTensor.FromArray(new[] { 3f, 4f }, [2], device));
        Assert.That(a.Grad!.Storage, Is.Not.SameAs(b.Grad!.Storage));
        float norm = GradClip.ClipGradNorm([a, b], 1f);
        Assert.That(norm, Is.EqualTo(MathF.Sqrt(50f)).Within(1e-5f));
        float coef = 1f / (MathF.Sqrt(50f) + 1e-6f);
        Assert.That(a.Grad.ToArray<float>(), Is.EqualTo(new[] { 3f * coef, 4f * coef }).Within(1e-6f));
        Assert.That(b.Grad.ToArray<float>(), Is.EqualTo(new[] { 3f * coef, 4f * coef }).Within(1e-6f));
    }
}
