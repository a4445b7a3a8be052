using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Core;

/// <summary>
/// Gradients of several narrow views of one tensor (attention's q, k, v of a permuted qkv): the
/// sweep adds each window into the input's gradient in place once it owns that gradient, instead of
/// a zero-filled input-sized tensor per view and full-size sums. The gradients equal the host
/// reference for disjoint and overlapping windows, with the input also used whole, on the CPU and
/// the simulator, and for bf16 views (autocast's q, k, v), whose bf16 gradients are widened as they
/// are written into the fp32 windows; and the backward peaks about one input-sized gradient lower
/// than the plain sweep.
/// </summary>
[TestFixture]
[NonParallelizable] // reads the devices' allocator peaks
public sealed class WindowGradientTests
{
    private static readonly string[] Devices = ["cpu", "ilgpu-cpu"];

    [Test]
    public void QkvSplitOfAPermutedViewGetsTheReferenceGradient([ValueSource(nameof(Devices))] string deviceName, [Values] bool alsoWhole)
    {
        // x [2, 5, 3, 4] -> p = x.permute(2, 0, 1, 3) [3, 2, 5, 4]; q, k, v = p[0], p[1], p[2] (narrows of one axis).
        Device device = Device.Parse(deviceName);
        float[] xs = Values(2 * 5 * 3 * 4, 1), wq = Values(2 * 5 * 4, 2), wk = Values(2 * 5 * 4, 3), wv = Values(2 * 5 * 4, 4), wp = Values(3 * 2 * 5 * 4, 5);
        Tensor x = Tensor.FromArray(xs, [2, 5, 3, 4], device);
        x.RequiresGrad = true;
        Tensor p = EngineOps.Affine(x.Permute(2, 0, 1, 3), 2f); // a non-leaf producer, as the qkv projection is
        Tensor loss = EngineOps.Add(EngineOps.Add(
            Dot(p.Narrow(0, 0, 1), wq, device), Dot(p.Narrow(0, 1, 1), wk, device)), Dot(p.Narrow(0, 2, 1), wv, device));
        if (alsoWhole) loss = EngineOps.Add(loss, Dot(p, wp, device)); // the gradient so far is then not the sweep's own window buffer
        long windows = Autograd.Backprop.WindowsAddedInPlace;
        loss.Backward();
        // The first window (in sweep order) starts the sweep's own gradient (or sums into the whole
        // use's); the other two are added in place.
        Assert.That(Autograd.Backprop.WindowsAddedInPlace - windows, Is.EqualTo(2));

        // d loss / d p [3, 2, 5, 4] = (wq | wk | wv) stacked (+ wp); d p / d x = 2 through the permutation.
        var expected = new float[xs.Length];
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 5; b++)
                for (int c = 0; c < 3; c++)
                    for (int d = 0; d < 4; d++)
                    {
                        int inner = (a * 5 + b) * 4 + d;
                        float g = (c == 0 ? wq : c == 1 ? wk : wv)[inner] + (alsoWhole ? wp[c * 40 + inner] : 0f);
                        expected[((a * 5 + b) * 3 + c) * 4 + d] = 2f * g;
                    }
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(expected).Within(1e-6f));
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void Bf16WindowsGetTheirGradientsWidened(string deviceName)
    {
        // p = bf16(2 x) [3, 4, 8]; each part p[i] is read back in fp32 and weighted by w_i, so its
        // gradient reaches the narrow as bf16(w_i) (the cast's backward rounds it).
        Device device = Device.Parse(deviceName);
        const int parts = 3, n = 4 * 8;
        float[][] w = [Values(n, 11), Values(n, 12), Values(n, 13)];
        Tensor x = Tensor.FromArray(Values(parts * n, 10), [parts, 4, 8], device);
        x.RequiresGrad = true;
        Tensor p = EngineOps.Cast(EngineOps.Affine(x, 2f), DType.BFloat16);
        Tensor loss = Dot(EngineOps.Cast(p.Narrow(0, 0, 1), DType.Float32), w[0], device);
        for (int i = 1; i < parts; i++) loss = EngineOps.Add(loss, Dot(EngineOps.Cast(p.Narrow(0, i, 1), DType.Float32), w[i], device));
        long windows = Autograd.Backprop.WindowsAddedInPlace;
        loss.Backward();
        Assert.That(Autograd.Backprop.WindowsAddedInPlace - windows, Is.EqualTo(2), "the second and third windows are added in place");
        float[] expected = w.SelectMany(part => part.Select(v => 2f * Bf16Reference.Round(v))).ToArray();
        Assert.That(x.Grad!.ToFloatArray(), Is.EqualTo(expected));
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void OverlappingWindowsAddUp(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        Tensor x = Tensor.FromArray(Values(4 * 6, 6), [4, 6], device);
        x.RequiresGrad = true;
        Tensor p = EngineOps.Scale(x, 1f);
        // Columns [0, 4) and [2, 6), each weighted by its own ones: the middle columns get 2, the ends 1.
        long windows = Autograd.Backprop.WindowsAddedInPlace;
        EngineOps.Add(EngineOps.Sum(p.Narrow(1, 0, 4)), EngineOps.Sum(p.Narrow(1, 2, 4))).Backward();
        Assert.That(Autograd.Backprop.WindowsAddedInPlace - windows, Is.EqualTo(1), "the second window is added in place");
        float[] grad = x.Grad!.ToFloatArray();
        for (int r = 0; r < 4; r++)
            Assert.That(grad.Skip(r * 6).Take(6).ToArray(), Is.EqualTo(new float[] { 1, 1, 2, 2, 1, 1 }), $"row {r}");
    }

    [TearDown]
    public void Restore() => Autograd.Backprop.InPlaceWindows = true;

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void ThreeWayBackwardPeaksLowerInPlace(string deviceName)
    {
        Device device = Device.Parse(deviceName);
        const int parts = 3, rows = 256, cols = 64;
        long full = (long)parts * rows * cols * sizeof(float);
        (long Peak, long InPlace, float[] Grad) Backward(bool inPlace)
        {
            Autograd.Backprop.InPlaceWindows = inPlace;
            Tensor x = Tensor.FromArray(Values(parts * rows * cols, 7), [parts, rows, cols], device);
            x.RequiresGrad = true;
            Tensor p = EngineOps.Scale(x, 1f);
            Tensor loss = EngineOps.Add(EngineOps.Add(EngineOps.Sum(p.Narrow(0, 0, 1)), EngineOps.Sum(p.Narrow(0, 1, 1))), EngineOps.Sum(p.Narrow(0, 2, 1)));
            long before = device.AllocatedBytes, windows = Autograd.Backprop.WindowsAddedInPlace;
            device.ResetPeakAllocatedBytes();
            loss.Backward();
            return (device.PeakAllocatedBytes - before, Autograd.Backprop.WindowsAddedInPlace - windows, x.Grad!.ToFloatArray());
        }
        var plain = Backward(inPlace: false);
        var inPlace = Backward(inPlace: true);
        TestContext.Out.WriteLine($"{deviceName}: backward peak {plain.Peak} B plain, {inPlace.Peak} B in place; one input-sized gradient is {full} B");
        Assert.That(plain.InPlace, Is.Zero);
        Assert.That(inPlace.InPlace, Is.EqualTo(2), "the second and third windows go into the first one's gradient");
        // Plain: the first window's zero-filled gradient, the second's and their sum are alive at once.
        Assert.That(inPlace.Peak, Is.LessThanOrEqualTo(plain.Peak - full / 2), "the in-place sweep saves about one input-sized gradient at its peak");
        Assert.That(inPlace.Grad, Is.EqualTo(plain.Grad));
        Assert.That(inPlace.Grad, Is.All.EqualTo(1f));
    }

    private static Tensor Dot(Tensor view, float[] weights, Device device) =>
        EngineOps.Sum(EngineOps.Mul(view, Tensor.FromArray(weights, view.ShapeArray, device)));

    private static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }
}
