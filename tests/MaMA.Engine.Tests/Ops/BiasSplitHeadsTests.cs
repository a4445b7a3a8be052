using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// The qkv projection's bias added in the pass that splits the heads (<see cref="EngineOps.BiasSplitHeads"/>):
/// the values and gradients of add, reshape, permute and (under bf16 autocast) the cast attention
/// makes, bit for bit, on the fast CPU backend and the ILGPU simulator; the output is contiguous, and
/// under autocast bf16 with no fp32 intermediate kept. Without a bias (a projection that added its
/// own, as LoRA's epilogue does) it is the permute and the copy or cast alone.
/// </summary>
[TestFixture]
[NonParallelizable] // reads the devices' allocator counters
public sealed class BiasSplitHeadsTests
{
    private const int B = 2, T = 7, Parts = 3, Heads = 2, D = 5, N = Parts * Heads * D;

    [TestCase("cpu", false, true)]
    [TestCase("cpu", true, true)]
    [TestCase("ilgpu-cpu", false, true)]
    [TestCase("ilgpu-cpu", true, true)]
    [TestCase("cpu", false, false)]
    [TestCase("cpu", true, false)]
    [TestCase("ilgpu-cpu", false, false)]
    [TestCase("ilgpu-cpu", true, false)]
    public void EqualsAddPermuteAndCastBitForBit(string deviceName, bool autocast, bool withBias)
    {
        Device device = Device.Parse(deviceName);
        var rng = new Random(3);
        float[] Draw(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        float[] y = Draw(B * T * N), bias = withBias ? Draw(N) : new float[N], w = Draw(B * T * N);

        (float[], int[])[] inputs = withBias ? [(y, [B, T, N]), (bias, [N])] : [(y, [B, T, N])];
        (float[], int[]) weights = (w, [Parts, B, Heads, T, D]);
        FusionHarness.Result fused = FusionHarness.Run(device, autocast, inputs, 1, 1.5f, weights,
            t => EngineOps.BiasSplitHeads(t[0], withBias ? t[1] : null, Parts, Heads));
        FusionHarness.Result plain = FusionHarness.Run(device, autocast, inputs, 1, 1.5f, weights, t =>
        {
            Tensor split = (withBias ? EngineOps.Add(t[0], t[1]) : t[0]).Reshape(B, T, Parts, Heads, D).Permute(2, 0, 3, 1, 4);
            return autocast ? EngineOps.Cast(split, DType.BFloat16) : split.Contiguous();
        });

        Assert.That(fused.DType, Is.EqualTo(autocast ? DType.BFloat16 : DType.Float32));
        Assert.That(fused.Contiguous, Is.True);
        Assert.That(fused.Output, Is.EqualTo(plain.Output), "output");
        Assert.That(fused.Grads, Has.Length.EqualTo(withBias ? 2 : 1));
        Assert.That(fused.Grads[0], Is.EqualTo(plain.Grads[0]), "gradient of y's input");
        if (withBias) Assert.That(fused.Grads[1], Is.EqualTo(plain.Grads[1]), "gradient of the bias");
        // The layout: out[s, b, h, t, d] = y[b, t, (s H + h) D + d] + bias[(s H + h) D + d] (bias 0 without one).
        int s0 = 2, b0 = 1, h0 = 1, t0 = 4, d0 = 3, j = (s0 * Heads + h0) * D + d0;
        float expected = 1.5f * y[(b0 * T + t0) * N + j] + bias[j];
        float got = fused.Output[(((s0 * B + b0) * Heads + h0) * T + t0) * D + d0];
        Assert.That(got, Is.EqualTo(autocast ? Bf16Reference.Round(expected) : expected));
    }

    [Test]
    public void WithoutBiasNeverAliasesItsInput()
    {
        // One part of one head at T = 1: the permuted view is y's own layout, yet the output is a fresh tensor.
        using Tensor y = Tensor.FromArray([1f, 2f, 3f, 4f], [2, 1, 2]);
        Tensor o = EngineOps.BiasSplitHeads(y, null, 1, 1);
        Assert.That(o.ShapeArray, Is.EqualTo(new[] { 1, 2, 1, 1, 2 }));
        Assert.That(o.ToArray<float>(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f }));
        Assert.That(ReferenceEquals(o.Storage, y.Storage), Is.False);
    }

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void UnderAutocastKeepsOnlyTheBf16Output(string deviceName)
    {
        // y [4, 64, 192] fp32 (192 KiB): the bf16 output is 96 KiB; no fp32 sum outlives the call.
        Device device = Device.Parse(deviceName);
        using Tensor leaf = Tensor.FromArray(new float[4 * 64 * 192], [4, 64, 192], device);
        leaf.RequiresGrad = true;
        using Tensor bias = Tensor.FromArray(new float[192], [192], device);
        bias.RequiresGrad = true;
        Tensor y = EngineOps.Scale(leaf, 1f);
        FusionHarness.Settle();
        long before = device.AllocatedBytes;
        Tensor o;
        using (Autocast.Bf16()) o = EngineOps.BiasSplitHeads(y, bias, 3, 4);
        Assert.That(device.AllocatedBytes - before, Is.EqualTo(Memory.CachingAllocator<object>.RoundSize(4 * 64 * 192 * 2)),
            "the bf16 output's block (rounded to its size class), nothing else");
        Assert.That(o.ShapeArray, Is.EqualTo(new[] { 3, 4, 4, 64, 16 }));
    }

    [Test]
    public void RejectsShapesThatDoNotSplit()
    {
        using Tensor y = Tensor.Zeros([2, 3, 30]);
        using Tensor bias = Tensor.Zeros([30]);
        using Tensor short29 = Tensor.Zeros([29]);
        Assert.That(() => EngineOps.BiasSplitHeads(y, bias, 3, 4), Throws.ArgumentException.With.Message.Contains("S = 3 parts of 4 heads"));
        Assert.That(() => EngineOps.BiasSplitHeads(y, short29, 3, 2), Throws.ArgumentException.With.Message.Contains("bias [29]"));
        Assert.That(() => EngineOps.BiasSplitHeads(y, bias, 0, 2), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [TestCase(true)]
    [TestCase(false)]
    public void LinearForwardSplitHeadsEqualsForwardThenPermute(bool bias)
    {
        var layer = new Linear(8, N, new Random(4), bias);
        var rng = new Random(6);
        using Tensor x = Tensor.FromArray(Enumerable.Range(0, B * T * 8).Select(_ => (float)rng.NextDouble()).ToArray(), [B, T, 8]);
        Tensor fused = layer.ForwardSplitHeads(x, Parts, Heads);
        Tensor plain = layer.Forward(x).Reshape(B, T, Parts, Heads, D).Permute(2, 0, 3, 1, 4).Contiguous();
        Assert.That(fused.ShapeArray, Is.EqualTo(new[] { Parts, B, Heads, T, D }));
        Assert.That(fused.ToArray<float>(), Is.EqualTo(plain.ToArray<float>()));
    }

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    public void LoraForwardSplitHeadsEqualsForwardThenPermute(bool training, bool merged)
    {
        var layer = new LoraLinear(8, N, WeightLayout.Conv1D, new Random(4), rank: 2, alpha: 4f, dropout: 0.25f) { DropoutSeed = 9 };
        var rng = new Random(6);
        layer.LoraB.CopyFrom(Tensor.FromArray(Enumerable.Range(0, N * 2).Select(_ => (float)rng.NextDouble()).ToArray(), [N, 2]));
        layer.Bias!.CopyFrom(Tensor.FromArray(Enumerable.Range(0, N).Select(_ => (float)rng.NextDouble()).ToArray(), [N]));
        if (training) layer.Train();
        else layer.Eval();
        if (merged) layer.Merge();
        using Tensor x = Tensor.FromArray(Enumerable.Range(0, B * T * 8).Select(_ => (float)rng.NextDouble()).ToArray(), [B, T, 8]);
        Tensor fused = layer.ForwardSplitHeads(x, Parts, Heads);
        layer.DropoutOffset = 0; // the same mask again
        Tensor plain = layer.Forward(x).Reshape(B, T, Parts, Heads, D).Permute(2, 0, 3, 1, 4).Contiguous();
        Assert.That(fused.ShapeArray, Is.EqualTo(new[] { Parts, B, Heads, T, D }));
        Assert.That(fused.ToArray<float>(), Is.EqualTo(plain.ToArray<float>()));
        if (training)
        {
            layer.DropoutOffset = 5; // another mask: another output, so the mask was applied
            Assert.That(layer.ForwardSplitHeads(x, Parts, Heads).ToArray<float>(), Is.Not.EqualTo(plain.ToArray<float>()));
        }
    }
}
