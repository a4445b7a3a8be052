using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Training.Config;
using MaMA.Training.Numerics;
using MaMA.Training.Pretraining;
using MaMA.Training.Tests.Pretraining;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Tests.Numerics;

/// <summary>bf16 autocast (Autocast, MixedPrecision) on the fast CPU backend, where it rounds operands to bf16.</summary>
public class MixedPrecisionTests
{
    private static float[] Values(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    private static double RelativeError(float[] actual, float[] expected)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            num += Math.Pow(actual[i] - expected[i], 2);
            den += Math.Pow(expected[i], 2);
        }
        return Math.Sqrt(num / Math.Max(den, 1e-30));
    }

    [Test]
    public void TinyModelStepUnderBf16StaysWithinOnePercentAndGradientsReachTheFp32Parameters()
    {
        MaMAConfig config = MaMAConfig.Tiny;
        var model = new MaMAModel(config, new Random(7), Device.Cpu);
        model.Eval(); // no dropout, BatchNorm statistics fixed: both passes see the same model
        SyntheticBatch b = SyntheticBatch.Create(config, n: 4, tokens: 32, seed: 3);
        int side = config.Vision.ImageSize;
        using Tensor v1 = Tensor.FromArray(b.View1, [4, 3, side, side]);
        using Tensor v2 = Tensor.FromArray(b.View2, [4, 3, side, side]);
        using Tensor ids = Tensor.FromArray(b.Ids, [4, 32]);
        using Tensor mask = Tensor.FromArray(b.Mask, [4, 32]);
        var batch = new MaMABatch(v1, ids, mask, v2);

        (double Loss, Dictionary<string, float[]> Grads) Step(bool bf16)
        {
            model.ZeroGrad();
            using (MixedPrecision.Scope(bf16 ? Precision.Bf16 : Precision.Fp32))
            {
                MaMAOutput output = model.Forward(batch, step: 0);
                output.Loss.Backward();
                var grads = new Dictionary<string, float[]>();
                foreach ((string name, Parameter p) in model.NamedParameters().Where(np => !np.Parameter.IsFrozen))
                {
                    Assert.That(p.DType, Is.EqualTo(DType.Float32), name);
                    Assert.That(p.Grad, Is.Not.Null, $"{name} got no gradient");
                    Assert.That(p.Grad!.DType, Is.EqualTo(DType.Float32), name);
                    grads[name] = p.Grad.ToFloatArray();
                }
                Assert.That(output.Loss.DType, Is.EqualTo(DType.Float32));
                return (output.Loss.Item(), grads);
            }
        }

        var fp32 = Step(bf16: false);
        var bf16 = Step(bf16: true);
        double lossError = Math.Abs(bf16.Loss - fp32.Loss) / Math.Abs(fp32.Loss);
        float[] all32 = fp32.Grads.Values.SelectMany(g => g).ToArray(), all16 = bf16.Grads.Keys.SelectMany(k => bf16.Grads[k]).ToArray();
        double gradError = RelativeError(all16, all32);
        TestContext.Out.WriteLine($"loss fp32 {fp32.Loss:F6}, bf16 {bf16.Loss:F6} (relative {lossError:E2}); gradients relative L2 {gradError:E2} over {fp32.Grads.Count} tensors");
        Assert.That(lossError, Is.LessThan(1e-2));
        Assert.That(lossError, Is.GreaterThan(0), "bf16 rounding changed nothing: autocast is not on");
        Assert.That(gradError, Is.LessThan(5e-2));
    }

    [Test]
    public void MatMulMultipliesBf16RoundedOperandsAndOtherOpsStayFp32()
    {
        using Tensor a = Tensor.FromArray(Values(33 * 65, 1), [33, 65]);
        using Tensor b = Tensor.FromArray(Values(65 * 17, 2), [65, 17]);
        float[] expected;
        using (Tensor ar = Ops.Cast(Ops.Cast(a, DType.BFloat16), DType.Float32))
        using (Tensor br = Ops.Cast(Ops.Cast(b, DType.BFloat16), DType.Float32))
            expected = Ops.MatMul(ar, br).ToFloatArray();
        float[] plain = Ops.MatMul(a, b).ToFloatArray();
        float[] softmax = Ops.Softmax(a).ToFloatArray(), layerNorm = Ops.LayerNorm(a, null, null).ToFloatArray(), sum = Ops.Add(a, a).ToFloatArray();
        using (Autocast.Bf16())
        {
            Assert.That(Autocast.IsEnabled, Is.True);
            Tensor product = Ops.MatMul(a, b);
            Assert.That(product.DType, Is.EqualTo(DType.Float32));
            Assert.That(product.ToFloatArray(), Is.EqualTo(expected));
            Assert.That(product.ToFloatArray(), Is.Not.EqualTo(plain));
            Assert.That(Ops.Softmax(a).ToFloatArray(), Is.EqualTo(softmax));
            Assert.That(Ops.LayerNorm(a, null, null).ToFloatArray(), Is.EqualTo(layerNorm));
            Assert.That(Ops.Add(a, a).ToFloatArray(), Is.EqualTo(sum));
            using (Autocast.Disable()) Assert.That(Ops.MatMul(a, b).ToFloatArray(), Is.EqualTo(plain));
        }
        Assert.That(Autocast.IsEnabled, Is.False);
    }

    [Test]
    public void GradientsFlowThroughTheCastToFp32Leaves()
    {
        using Tensor a = Tensor.FromArray(Values(5 * 7, 3), [5, 7]);
        using Tensor w = Tensor.FromArray(Values(7 * 3, 4), [7, 3]);
        a.RequiresGrad = true;
        w.RequiresGrad = true;
        using (Autocast.Bf16()) Ops.Sum(Ops.MatMul(a, w)).Backward();
        Assert.That(a.Grad!.DType, Is.EqualTo(DType.Float32));
        Assert.That(w.Grad!.DType, Is.EqualTo(DType.Float32));
        // d sum(a w) / d a = row sums of w (of its bf16 copy), broadcast over rows.
        float[] wr = Ops.Cast(Ops.Cast(w, DType.BFloat16), DType.Float32).ToFloatArray();
        float[] da = a.Grad.ToFloatArray();
        for (int k = 0; k < 7; k++)
            Assert.That(da[k], Is.EqualTo(wr[k * 3] + wr[k * 3 + 1] + wr[k * 3 + 2]).Within(1e-6f));
    }

    [Test]
    public void Bf16PretrainingRunsAndSaysHowItComputes()
    {
        string run32 = TestPaths.NewScratch("bf16-ref"), run16 = TestPaths.NewScratch("bf16");
        try
        {
            TinyRuns.Train(TinyRuns.Config(steps: 3), run32);
            var messages = new List<string>();
            var result = TinyRuns.Train(TinyRuns.Config(steps: 3) with { Precision = Precision.Bf16 }, run16, messages: messages);
            Assert.That(messages, Has.Some.Contains("precision bf16").And.Some.Contains("rounded to bf16"));
            Assert.That(result.Skipped, Is.EqualTo(0));
            double a = TinyRuns.TrainLines(run32)[0]["loss"], b = TinyRuns.TrainLines(run16)[0]["loss"];
            TestContext.Out.WriteLine($"first step loss fp32 {a:F6}, bf16 {b:F6}");
            Assert.That(Math.Abs(a - b) / Math.Abs(a), Is.LessThan(1e-2).And.GreaterThan(0));
        }
        finally
        {
            Directory.Delete(run32, recursive: true);
            Directory.Delete(run16, recursive: true);
        }
    }

    /// <summary>The ILGPU simulator (the GPU kernels on CPU threads) runs the same bf16 numerics as the fast CPU backend.</summary>
    [Test]
    public void IlgpuSimulatorGivesTheSameBf16StepAsTheCpuBackend()
    {
        Device sim = Device.Parse("ilgpu-cpu");
        float[] x = Values(6 * 40, 5), w = Values(40 * 24, 6), qkv = Values(2 * 2 * 9 * 8, 7);
        (float[] Y, float[] Dw, float[] O) On(Device device)
        {
            using Tensor xt = Tensor.FromArray(x, [6, 40], device);
            using Tensor wt = Tensor.FromArray(w, [40, 24], device);
            using Tensor q = Tensor.FromArray(qkv, [2, 2, 9, 8], device);
            wt.RequiresGrad = true;
            using (Autocast.Bf16())
            {
                Tensor y = Ops.MatMul(xt, wt);
                Ops.Sum(Ops.Mul(y, y)).Backward();
                Tensor o = Ops.Attention(q, q, q, null, causal: true, scale: 0.35f);
                return (y.ToFloatArray(), wt.Grad!.ToFloatArray(), o.ToFloatArray());
            }
        }
        var cpu = On(Device.Cpu);
        var ilgpu = On(sim);
        Assert.That(RelativeError(ilgpu.Y, cpu.Y), Is.LessThan(1e-5));
        Assert.That(RelativeError(ilgpu.Dw, cpu.Dw), Is.LessThan(1e-5));
        Assert.That(RelativeError(ilgpu.O, cpu.O), Is.LessThan(1e-5));
    }
}
