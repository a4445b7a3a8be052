using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// The fused bias + GELU (<see cref="EngineOps.BiasGelu"/>): bit for bit the values and gradients
/// of the unfused add then GELU on the fast CPU backend and the ILGPU simulator, in fp32 and under
/// bf16 autocast (where the fused output is bf16, the unfused output rounded as the next product
/// rounds it, and both keep the bf16 pre-activation for the backward), with less memory: the
/// forward keeps no fp32 pre-activation.
/// </summary>
[TestFixture]
[NonParallelizable] // reads the devices' allocator counters
public sealed class BiasGeluTests
{
    // C = 37: rows end inside a SIMD vector, so row tails and the scalar formula are exercised.
    // [40, 3072] (ViT fc1 width): the CPU splits rows across cores.
    [TestCase("cpu", GeluForm.Erf, false, 3, 37)]
    [TestCase("cpu", GeluForm.Tanh, false, 3, 37)]
    [TestCase("cpu", GeluForm.Erf, true, 3, 37)]
    [TestCase("cpu", GeluForm.Tanh, true, 3, 37)]
    [TestCase("cpu", GeluForm.Erf, false, 40, 3072)]
    [TestCase("cpu", GeluForm.Erf, true, 40, 3072)]
    [TestCase("ilgpu-cpu", GeluForm.Erf, false, 3, 37)]
    [TestCase("ilgpu-cpu", GeluForm.Tanh, false, 3, 37)]
    [TestCase("ilgpu-cpu", GeluForm.Erf, true, 3, 37)]
    [TestCase("ilgpu-cpu", GeluForm.Tanh, true, 3, 37)]
    public void EqualsAddThenGeluBitForBit(string deviceName, GeluForm form, bool autocast, int rows, int c)
    {
        Device device = Device.Parse(deviceName);
        (float[] x, float[] b, float[] w) = Inputs(rows * 5, c, seed: rows + c);

        (float[], int[])[] inputs = [(x, [rows, 5, c]), (b, [c])];
        FusionHarness.Result fused = FusionHarness.Run(device, autocast, inputs, 1, 1.5f, (w, [rows, 5, c]), t => EngineOps.BiasGelu(t[0], t[1], form));
        FusionHarness.Result plain = FusionHarness.Run(device, autocast, inputs, 1, 1.5f, (w, [rows, 5, c]), t =>
        {
            Tensor h = EngineOps.Gelu(EngineOps.Add(t[0], t[1]), form);
            return autocast ? EngineOps.Cast(h, DType.BFloat16) : h;
        });

        Assert.That(fused.DType, Is.EqualTo(autocast ? DType.BFloat16 : DType.Float32));
        Assert.That(fused.Output, Is.EqualTo(plain.Output), "output");
        Assert.That(fused.Grads[0], Is.EqualTo(plain.Grads[0]), "gradient of y's input");
        Assert.That(fused.Grads[1], Is.EqualTo(plain.Grads[1]), "gradient of the bias");
        // Not a vacuous comparison: the outputs are GELU's (about x Phi(x)), and the gradients non-zero.
        Assert.That(fused.Output.Max(), Is.GreaterThan(2f));
        Assert.That(fused.Grads[1].Select(MathF.Abs).Max(), Is.GreaterThan(1e-3f));
    }

    [TestCase(GeluForm.Erf)]
    [TestCase(GeluForm.Tanh)]
    public void MatchesTheFormulaInDouble(GeluForm form)
    {
        // y + b at points across both tails; the derivative checked through the bias gradient of sum(out).
        float[] y = [-7f, -3.5f, -1f, -0.25f, 0f, 0.3f, 1.2f, 4f, 9f];
        float[] b = [0.5f, -0.5f, 0.125f];
        using Tensor yt = Tensor.FromArray(y, [3, 3]);
        using Tensor bt = Tensor.FromArray(b, [3]);
        bt.RequiresGrad = true;
        Tensor o = EngineOps.BiasGelu(yt, bt, form);
        EngineOps.Sum(o).Backward();
        float[] got = o.ToArray<float>(), gb = bt.Grad!.ToArray<float>();
        var slopeSums = new double[3];
        for (int i = 0; i < y.Length; i++)
        {
            double v = y[i] + b[i % 3];
            Assert.That(got[i], Is.EqualTo(Gelu(v, form)).Within(2e-6 + 2e-6 * Math.Abs(v)), $"GELU at {v}");
            slopeSums[i % 3] += Slope(v, form);
        }
        for (int j = 0; j < 3; j++) Assert.That(gb[j], Is.EqualTo(slopeSums[j]).Within(1e-5), $"bias gradient {j}");
    }

    [TestCase("cpu", false)]
    [TestCase("cpu", true)]
    [TestCase("ilgpu-cpu", false)]
    [TestCase("ilgpu-cpu", true)]
    public void KeepsNoFp32PreActivation(string deviceName, bool autocast)
    {
        // y [64, 256] fp32 = 64 KiB. Unfused, the add's fp32 output stays for GELU's backward (fp32)
        // or is garbage while its bf16 copy stays (autocast), and under autocast the fp32 output is
        // cast for the next product; fused, only the output (64 KiB fp32, or 32 KiB bf16 under
        // autocast) and, under autocast, the 32 KiB bf16 pre-activation outlive the call.
        Device device = Device.Parse(deviceName);
        (float[] x, float[] b, _) = Inputs(64, 256, seed: 3);
        using Tensor leaf = Tensor.FromArray(x, [64, 256], device);
        leaf.RequiresGrad = true;
        using Tensor bias = Tensor.FromArray(b, [256], device);
        bias.RequiresGrad = true;
        Tensor y = EngineOps.Scale(leaf, 1f);
        long outputBytes = 64 * 256 * 4, pre16Bytes = 64 * 256 * 2;

        FusionHarness.Settle();
        long before = device.AllocatedBytes;
        device.ResetPeakAllocatedBytes();
        Tensor o;
        using (autocast ? Autocast.Bf16() : null) o = EngineOps.BiasGelu(y, bias);
        long kept = device.AllocatedBytes - before, peak = device.PeakAllocatedBytes - before;
        long expected = autocast ? 2 * pre16Bytes : outputBytes;
        TestContext.Out.WriteLine($"{deviceName} autocast={autocast}: kept {kept} B, peak {peak} B (expected {expected} B)");
        Assert.That(kept, Is.EqualTo(expected), "sizes are powers of two: the allocator's rounding adds nothing");
        Assert.That(peak, Is.EqualTo(kept), "no temporary beyond what is kept");
        GC.KeepAlive(o);
    }

    [Test]
    public void GradientsFlowOnlyWhereRequired()
    {
        (float[] x, float[] b, _) = Inputs(4, 6, seed: 9);
        using Tensor y = Tensor.FromArray(x, [4, 6]);
        using Tensor bias = Tensor.FromArray(b, [6]);
        bias.RequiresGrad = true;
        EngineOps.Sum(EngineOps.BiasGelu(y, bias)).Backward();
        Assert.That(y.Grad, Is.Null);
        Assert.That(bias.Grad!.ShapeArray, Is.EqualTo(new[] { 6 }));

        using Tensor y2 = Tensor.FromArray(x, [4, 6]);
        y2.RequiresGrad = true;
        using Tensor frozen = Tensor.FromArray(b, [6]);
        EngineOps.Sum(EngineOps.BiasGelu(y2, frozen)).Backward();
        Assert.That(frozen.Grad, Is.Null);
        Assert.That(y2.Grad!.ShapeArray, Is.EqualTo(new[] { 4, 6 }));

        using (GradMode.NoGrad())
        {
            Tensor o = EngineOps.BiasGelu(y2, bias);
            Assert.That(o.GradFn, Is.Null);
            Assert.That(o.RequiresGrad, Is.False);
        }
    }

    [Test]
    public void RejectsABiasThatDoesNotMatchTheLastAxis()
    {
        using Tensor y = Tensor.Zeros([4, 6]);
        using Tensor wrong = Tensor.Zeros([5]);
        using Tensor matrix = Tensor.Zeros([1, 6]);
        Assert.That(() => EngineOps.BiasGelu(y, wrong), Throws.ArgumentException.With.Message.Contains("[4, 6]").And.Message.Contains("[5]"));
        Assert.That(() => EngineOps.BiasGelu(y, matrix), Throws.ArgumentException.With.Message.Contains("bias [C]"));
        using Tensor ids = Tensor.FromArray(new long[] { 1, 2, 3, 4, 5, 6 }, [6]);
        Assert.That(() => EngineOps.BiasGelu(y, ids), Throws.ArgumentException.With.Message.Contains("floating"));
    }

    [Test]
    public void LinearForwardGeluIsTheFusedOpWithTheUnfusedValues()
    {
        var layer = new Linear(24, 40, new Random(2));
        (float[] x, _, _) = Inputs(7, 24, seed: 4);
        using Tensor input = Tensor.FromArray(x, [7, 24]);
        Tensor fused = layer.ForwardGelu(input, GeluForm.Erf);
        Tensor plain = EngineOps.Gelu(layer.Forward(input), GeluForm.Erf);
        Assert.That(fused.GradFn!.Name, Is.EqualTo("bias_gelu_erf"));
        Assert.That(fused.ToArray<float>(), Is.EqualTo(plain.ToArray<float>()));
    }

    private static (float[] X, float[] B, float[] W) Inputs(int rows, int c, int seed)
    {
        var rng = new Random(seed);
        float[] x = Enumerable.Range(0, rows * c).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
        float[] b = Enumerable.Range(0, c).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] w = Enumerable.Range(0, rows * c).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return (x, b, w);
    }

    private static double Gelu(double v, GeluForm form) => form == GeluForm.Erf
        ? v * Phi(v)
        : 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));

    private static double Slope(double v, GeluForm form)
    {
        if (form == GeluForm.Erf) return Phi(v) + v * Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI);
        double u = Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v), t = Math.Tanh(u);
        return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * Math.Sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * v * v);
    }

    /// <summary>Phi(v) by numerical integration of the density (Simpson, 20000 steps from -12): ~1e-12.</summary>
    private static double Phi(double v)
    {
        if (v < -12) return 0;
        const int Steps = 20000;
        double a = -12, h = (v - a) / Steps, sum = Density(a) + Density(v);
        for (int i = 1; i < Steps; i++) sum += Density(a + i * h) * (i % 2 == 1 ? 4 : 2);
        return sum * h / 3;
    }

    private static double Density(double t) => Math.Exp(-0.5 * t * t) / Math.Sqrt(2 * Math.PI);
}
