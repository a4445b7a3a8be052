using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// The fused residual update residual + gamma (branch + bias) (<see cref="EngineOps.ScaledResidual"/>):
/// bit for bit the values and the four gradients of add, multiply, add on the fast CPU backend and
/// the ILGPU simulator, in fp32 and under bf16 autocast, keeping no intermediate beyond what
/// gamma's gradient needs.
/// </summary>
[TestFixture]
[NonParallelizable] // reads the devices' allocator counters
public sealed class ScaledResidualTests
{
    // C = 37 ends rows inside a SIMD vector; [40 x 5, 768] (ViT width) splits rows across cores.
    [TestCase("cpu", false, 3, 37)]
    [TestCase("cpu", true, 3, 37)]
    [TestCase("cpu", false, 40, 768)]
    [TestCase("cpu", true, 40, 768)]
    [TestCase("ilgpu-cpu", false, 3, 37)]
    [TestCase("ilgpu-cpu", true, 3, 37)]
    public void EqualsAddMultiplyAddBitForBit(string deviceName, bool autocast, int rows, int c)
    {
        Device device = Device.Parse(deviceName);
        var rng = new Random(rows + c);
        float[] Draw(int n, double spread) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * spread)).ToArray();
        int[] shape = [rows, 5, c];
        int n = rows * 5 * c;
        float[] x = Draw(n, 3), y = Draw(n, 3), b = Draw(c, 1), g = Draw(c, 2), w = Draw(n, 1);

        (float[], int[])[] inputs = [(x, shape), (y, shape), (b, [c]), (g, [c])];
        FusionHarness.Result fused = FusionHarness.Run(device, autocast, inputs, 2, 1.5f, (w, shape), t => EngineOps.ScaledResidual(t[0], t[1], t[2], t[3]));
        FusionHarness.Result plain = FusionHarness.Run(device, autocast, inputs, 2, 1.5f, (w, shape),
            t => EngineOps.Add(t[0], EngineOps.Mul(EngineOps.Add(t[1], t[2]), t[3])));

        Assert.That(fused.Output, Is.EqualTo(plain.Output), "output");
        for (int i = 0; i < 4; i++) Assert.That(fused.Grads[i], Is.EqualTo(plain.Grads[i]), $"gradient {i} (residual, branch, bias, gamma)");
        Assert.That(fused.Grads[3].Select(MathF.Abs).Max(), Is.GreaterThan(1e-2f), "gamma's gradient is not trivially zero");
    }

    // Without gamma (GPT-2's c_proj): residual + (branch + bias), against add then add.
    [TestCase("cpu", false)]
    [TestCase("cpu", true)]
    [TestCase("ilgpu-cpu", false)]
    [TestCase("ilgpu-cpu", true)]
    public void WithoutGammaEqualsAddAddBitForBit(string deviceName, bool autocast)
    {
        Device device = Device.Parse(deviceName);
        var rng = new Random(17);
        float[] Draw(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        int[] shape = [4, 5, 37];
        (float[], int[])[] inputs = [(Draw(740), shape), (Draw(740), shape), (Draw(37), [37])];
        (float[], int[]) weights = (Draw(740), shape);

        FusionHarness.Result fused = FusionHarness.Run(device, autocast, inputs, 2, 1.5f, weights, t => EngineOps.ScaledResidual(t[0], t[1], t[2], gamma: null));
        FusionHarness.Result plain = FusionHarness.Run(device, autocast, inputs, 2, 1.5f, weights, t => EngineOps.Add(t[0], EngineOps.Add(t[1], t[2])));

        Assert.That(fused.Output, Is.EqualTo(plain.Output), "output");
        for (int i = 0; i < 3; i++) Assert.That(fused.Grads[i], Is.EqualTo(plain.Grads[i]), $"gradient {i} (residual, branch, bias)");
        Assert.That(fused.Grads[2].Select(MathF.Abs).Max(), Is.GreaterThan(1e-2f), "the bias gradient is not trivially zero");
    }

    [Test]
    public void GradientsMatchTheFormulaInDouble()
    {
        // z = r + g (y + b); loss = sum(z * w): dr = w, dy = w g, db = sum_rows w g, dg = sum_rows w (y + b).
        float[] r = [1f, -2f, 0.5f, 3f, -1f, 2f], y = [0.25f, 1.5f, -3f, 2f, -0.5f, 4f], b = [0.5f, -1f, 2f], g = [2f, -0.5f, 0.25f];
        float[] w = [1f, 2f, -1f, 0.5f, -2f, 3f];
        Tensor[] t = [Tensor.FromArray(r, [2, 3]), Tensor.FromArray(y, [2, 3]), Tensor.FromArray(b, [3]), Tensor.FromArray(g, [3])];
        foreach (Tensor p in t) p.RequiresGrad = true;
        Tensor z = EngineOps.ScaledResidual(t[0], t[1], t[2], t[3]);
        EngineOps.Sum(EngineOps.Mul(z, Tensor.FromArray(w, [2, 3]))).Backward();
        float[] zv = z.ToArray<float>();
        for (int i = 0; i < 6; i++) Assert.That(zv[i], Is.EqualTo(r[i] + g[i % 3] * (y[i] + b[i % 3])).Within(1e-6));
        Assert.That(t[0].Grad!.ToArray<float>(), Is.EqualTo(w));
        Assert.That(t[1].Grad!.ToArray<float>(), Is.EqualTo(w.Select((v, i) => v * g[i % 3]).ToArray()).Within(1e-6));
        Assert.That(t[2].Grad!.ToArray<float>(), Is.EqualTo(Enumerable.Range(0, 3).Select(j => w[j] * g[j] + w[j + 3] * g[j]).ToArray()).Within(1e-6));
        Assert.That(t[3].Grad!.ToArray<float>(),
            Is.EqualTo(Enumerable.Range(0, 3).Select(j => w[j] * (y[j] + b[j]) + w[j + 3] * (y[j + 3] + b[j])).ToArray()).Within(1e-5));
    }

    [TestCase("cpu", false, true)]
    [TestCase("cpu", true, true)]
    [TestCase("cpu", false, false)]
    [TestCase("ilgpu-cpu", false, true)]
    [TestCase("ilgpu-cpu", true, true)]
    [TestCase("ilgpu-cpu", true, false)]
    public void KeepsOnlyWhatGammasGradientNeeds(string deviceName, bool autocast, bool gammaTrains)
    {
        // [64, 256] fp32 = 64 KiB. Kept past the call: the output, and when gamma trains under
        // autocast the 32 KiB bf16 branch + bias (in fp32 the branch itself is kept, already allocated).
        Device device = Device.Parse(deviceName);
        var rng = new Random(4);
        float[] Draw(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble()).ToArray();
        using Tensor rLeaf = Tensor.FromArray(Draw(64 * 256), [64, 256], device);
        using Tensor yLeaf = Tensor.FromArray(Draw(64 * 256), [64, 256], device);
        using Tensor bias = Tensor.FromArray(Draw(256), [256], device);
        using Tensor gamma = Tensor.FromArray(Draw(256), [256], device);
        rLeaf.RequiresGrad = yLeaf.RequiresGrad = bias.RequiresGrad = true;
        gamma.RequiresGrad = gammaTrains;
        Tensor r = EngineOps.Scale(rLeaf, 1f), y = EngineOps.Scale(yLeaf, 1f);

        FusionHarness.Settle();
        long before = device.AllocatedBytes;
        device.ResetPeakAllocatedBytes();
        Tensor z;
        using (autocast ? Autocast.Bf16() : null) z = EngineOps.ScaledResidual(r, y, bias, gamma);
        long kept = device.AllocatedBytes - before, peak = device.PeakAllocatedBytes - before;
        long expected = 64 * 256 * 4 + (autocast && gammaTrains ? 64 * 256 * 2 : 0);
        TestContext.Out.WriteLine($"{deviceName} autocast={autocast} gamma trains={gammaTrains}: kept {kept} B, peak {peak} B");
        Assert.That(kept, Is.EqualTo(expected), "sizes are powers of two: the allocator's rounding adds nothing");
        Assert.That(peak, Is.EqualTo(kept), "no temporary");
        GC.KeepAlive(z);
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void WithoutGammaKeepsNothingForTheBackward(string deviceName)
    {
        // [64, 256] fp32 = 64 KiB: only the output outlives the call, with or without autocast.
        Device device = Device.Parse(deviceName);
        using Tensor rLeaf = Tensor.FromArray(new float[64 * 256], [64, 256], device);
        using Tensor yLeaf = Tensor.FromArray(new float[64 * 256], [64, 256], device);
        using Tensor bias = Tensor.FromArray(new float[256], [256], device);
        rLeaf.RequiresGrad = yLeaf.RequiresGrad = bias.RequiresGrad = true;
        Tensor r = EngineOps.Scale(rLeaf, 1f), y = EngineOps.Scale(yLeaf, 1f);
        FusionHarness.Settle();
        long before = device.AllocatedBytes;
        Tensor z;
        using (Autocast.Bf16()) z = EngineOps.ScaledResidual(r, y, bias, gamma: null);
        Assert.That(device.AllocatedBytes - before, Is.EqualTo(64 * 256 * 4));
        Assert.That(z.GradFn!.Name, Is.EqualTo("bias_residual"));
    }

    [Test]
    public void RejectsMismatchedShapes()
    {
        using Tensor r = Tensor.Zeros([4, 6]);
        using Tensor other = Tensor.Zeros([4, 5]);
        using Tensor c6 = Tensor.Zeros([6]);
        using Tensor c5 = Tensor.Zeros([5]);
        Assert.That(() => EngineOps.ScaledResidual(r, other, c6, c6), Throws.ArgumentException.With.Message.Contains("branch [4, 5]"));
        Assert.That(() => EngineOps.ScaledResidual(r, r, c5, c6), Throws.ArgumentException.With.Message.Contains("bias [5]"));
        Assert.That(() => EngineOps.ScaledResidual(r, r, c6, c5), Throws.ArgumentException.With.Message.Contains("gamma [5]"));
    }

    [Test]
    public void LinearForwardScaledResidualIsTheFusedOpWithTheUnfusedValues()
    {
        var layer = new Linear(24, 16, new Random(2));
        var rng = new Random(8);
        using Tensor x = Tensor.FromArray(Enumerable.Range(0, 2 * 7 * 24).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), [2, 7, 24]);
        using Tensor residual = Tensor.FromArray(Enumerable.Range(0, 2 * 7 * 16).Select(_ => (float)rng.NextDouble()).ToArray(), [2, 7, 16]);
        using Tensor gamma = Tensor.FromArray(Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble()).ToArray(), [16]);
        Tensor fused = layer.ForwardScaledResidual(x, residual, gamma);
        Tensor plain = EngineOps.Add(residual, EngineOps.Mul(layer.Forward(x), gamma));
        Assert.That(fused.GradFn!.Name, Is.EqualTo("scaled_residual"));
        Assert.That(fused.ToArray<float>(), Is.EqualTo(plain.ToArray<float>()));
    }
}
