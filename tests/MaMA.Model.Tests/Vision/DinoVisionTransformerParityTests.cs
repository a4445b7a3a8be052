using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Interop.Torch;
using MaMA.Interop.Torch.Reference;
using MaMA.Model.Vision;
using TorchSharp;
using static MaMA.Model.Tests.Vision.VisionTestKit;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.Vision;

/// <summary>
/// The engine ViT against the TorchSharp twin (<see cref="TorchDinoV2"/>) with one state dict, tiny
/// config, fp32: outputs and every gradient at the trained size (3x3 grid) and at other sizes
/// (position table interpolated bicubically with antialias: up to a non-square 4x5 grid, down to 2x2),
/// activation checkpointing, the ILGPU simulator, the frozen mask token and bf16 weights.
/// </summary>
[TestFixture]
public sealed class DinoVisionTransformerParityTests
{
    private const double Fp32Tolerance = 1e-4;

    /// <summary>(batch, H, W): the trained 42x42 (3x3 grid), 56x70 (4x5, upsampled table), 28x28 (2x2, downsampled).</summary>
    private static readonly (int B, int H, int W)[] Sizes = [(2, 42, 42), (2, 56, 70), (1, 28, 28)];

    private static IEnumerable<TestCaseData> SizeCases() => Sizes.Select(s => new TestCaseData(s.B, s.H, s.W).SetArgDisplayNames($"{s.B}x3x{s.H}x{s.W}"));

    private static DinoVisionTransformer TinyModel(Device? device = null, int seed = 7)
    {
        var model = new DinoVisionTransformer(VisionConfig.Tiny, new Random(seed), device);
        Randomize(model, seed + 100);
        return model;
    }

    private static float[] Pixels(int b, int h, int w, int seed = 5) => Normal(new Random(seed), b * 3 * h * w);

    [TestCaseSource(nameof(SizeCases))]
    public void ForwardMatchesTorch(int b, int h, int w)
    {
        DinoVisionTransformer model = TinyModel();
        using TorchDinoV2 twin = TorchTwin(model);
        float[] pixels = Pixels(b, h, w);
        int p = h / 14 * (w / 14), t = 1 + 4 + p;

        VisionOutput o = model.Forward(EngineTensor.FromArray(pixels, [b, 3, h, w]));
        Assert.That(o.XPrenorm.ShapeArray, Is.EqualTo(new[] { b, t, 32 }));
        Assert.That(o.XNorm.ShapeArray, Is.EqualTo(new[] { b, t, 32 }));
        Assert.That(o.Cls.ShapeArray, Is.EqualTo(new[] { b, 32 }));
        Assert.That(o.Patches.ShapeArray, Is.EqualTo(new[] { b, p, 32 }));

        using var noGrad = torch.no_grad();
        var r = twin.Forward(torch.tensor(pixels, [b, 3, h, w]));
        AssertAll($"forward {b}x3x{h}x{w}",
        [
            ("x_prenorm", RelativeError(Values(o.XPrenorm), Values(r.XPrenorm))),
            ("x_norm", RelativeError(Values(o.XNorm), Values(r.XNorm))),
            ("cls", RelativeError(Values(o.Cls), Values(r.Cls))),
            ("patches", RelativeError(Values(o.Patches), Values(r.Patches))),
        ], Fp32Tolerance);
    }

    [TestCaseSource(nameof(SizeCases))]
    public void GradientsOfEveryParameterAndThePixelsMatchTorch(int b, int h, int w)
    {
        DinoVisionTransformer model = TinyModel();
        using TorchDinoV2 twin = TorchTwin(model);
        float[] pixels = Pixels(b, h, w);

        var x = EngineTensor.FromArray(pixels, [b, 3, h, w]);
        x.RequiresGrad = true;
        VisionOutput o = model.Forward(x);
        float[][] weights = LossWeights(o, 9);
        EngineLoss(o, weights).Backward();

        TorchTensor tx = torch.tensor(pixels, [b, 3, h, w]).requires_grad_(true);
        var r = twin.Forward(tx);
        TorchTensor[] outs = [r.XPrenorm, r.XNorm, r.Cls, r.Patches];
        TorchTensor loss = outs.Select((v, i) => (v * torch.tensor(weights[i], v.shape)).sum()).Aggregate((a, c) => a + c);
        loss.backward();

        var errors = new List<(string, double)> { ("pixels", RelativeError(Values(x.Grad!), Values(tx.grad!))) };
        var torchParams = twin.named_parameters().ToDictionary(np => np.name, np => np.parameter);
        foreach ((string name, Parameter param) in model.NamedParameters())
        {
            TorchTensor tp = torchParams[name];
            if (name == "mask_token")
            {
                Assert.That(param.Grad, Is.Null, "mask_token is frozen");
                Assert.That(tp.grad, Is.Null, "mask_token is unused in torch too");
                continue;
            }
            Assert.That(param.Grad, Is.Not.Null, $"{name} has no gradient");
            errors.Add((name, RelativeError(Values(param.Grad!), Values(tp.grad!))));
        }
        Assert.That(errors, Has.Count.EqualTo(1 + model.StateDict().Count - 1));
        AssertAll($"gradients {b}x3x{h}x{w}", errors, Fp32Tolerance);
    }

    [Test]
    public void ActivationCheckpointingGivesTheSameGradients([Values(42, 56)] int size)
    {
        (float[] Output, Dictionary<string, float[]> Grads) Run(bool checkpoint)
        {
            DinoVisionTransformer model = TinyModel();
            model.UseActivationCheckpointing = checkpoint;
            var x = EngineTensor.FromArray(Pixels(2, size, size), [2, 3, size, size]);
            x.RequiresGrad = true;
            VisionOutput o = model.Forward(x);
            EngineLoss(o, LossWeights(o, 3)).Backward();
            var grads = model.NamedParameters().Where(np => np.Parameter.Grad is not null)
                .ToDictionary(np => np.Name, np => Values(np.Parameter.Grad!));
            grads["pixels"] = Values(x.Grad!);
            return (Values(o.XNorm), grads);
        }

        var plain = Run(checkpoint: false);
        var recomputed = Run(checkpoint: true);
        Assert.That(recomputed.Grads.Keys, Is.EquivalentTo(plain.Grads.Keys));
        Assert.That(RelativeError(recomputed.Output, plain.Output), Is.LessThanOrEqualTo(1e-6));
        AssertAll($"checkpointed vs plain {size}", plain.Grads.Select(g => (g.Key, RelativeError(recomputed.Grads[g.Key], g.Value))), 1e-6);
    }

    [Test]
    public void IlgpuSimulatorMatchesCpu([Values(42, 56)] int size)
    {
        (VisionOutput Out, DinoVisionTransformer Model, EngineTensor X) Run(string deviceName)
        {
            Device device = Device.Parse(deviceName);
            DinoVisionTransformer model = TinyModel(device);
            var x = EngineTensor.FromArray(Pixels(2, size, size), [2, 3, size, size], device);
            x.RequiresGrad = true;
            VisionOutput o = model.Forward(x);
            EngineLoss(o, LossWeights(o, 4)).Backward();
            return (o, model, x);
        }

        var cpu = Run("cpu");
        var sim = Run("ilgpu-cpu");
        Assert.That(sim.Out.XNorm.Device.Name, Is.Not.EqualTo(cpu.Out.XNorm.Device.Name));
        var errors = Named(cpu.Out).Zip(Named(sim.Out), (c, s) => (c.Name, RelativeError(Values(s.Value), Values(c.Value)))).ToList();
        errors.Add(("grad.pixels", RelativeError(Values(sim.X.Grad!), Values(cpu.X.Grad!))));
        var simParams = sim.Model.NamedParameters().ToDictionary(np => np.Name, np => np.Parameter);
        foreach ((string name, Parameter p) in cpu.Model.NamedParameters())
            if (p.Grad is not null) errors.Add(("grad." + name, RelativeError(Values(simParams[name].Grad!), Values(p.Grad))));
        AssertAll($"ilgpu-cpu vs cpu {size}", errors, Fp32Tolerance);
    }

    [Test]
    public void FrozenMaskTokenGetsNoGradientAndKeepsItsValues()
    {
        DinoVisionTransformer model = TinyModel();
        float[] before = Values(model.MaskToken);
        VisionOutput o = model.Forward(EngineTensor.FromArray(Pixels(1, 42, 42), [1, 3, 42, 42]));
        EngineLoss(o, LossWeights(o, 1)).Backward();
        Assert.That(model.MaskToken.IsFrozen, Is.True);
        Assert.That(model.MaskToken.Grad, Is.Null);
        Assert.That(Values(model.MaskToken), Is.EqualTo(before));
        Assert.That(model.ClsToken.Grad, Is.Not.Null);
        Assert.That(model.Norm.Weight.Grad, Is.Not.Null);

        // MaMA freezes the final norm: then it gets no gradient either, and the rest still does.
        model.ZeroGrad();
        model.Norm.Weight.Freeze();
        model.Norm.Bias.Freeze();
        o = model.Forward(EngineTensor.FromArray(Pixels(1, 42, 42), [1, 3, 42, 42]));
        EngineLoss(o, LossWeights(o, 1)).Backward();
        Assert.That(model.Norm.Weight.Grad, Is.Null);
        Assert.That(model.Norm.Bias.Grad, Is.Null);
        Assert.That(model.Blocks[1].Mlp.Fc2.Weight.Grad, Is.Not.Null);
    }

    [Test]
    public void Bf16WeightsAndPixelsRunInFp32WithinBf16Tolerance([Values(42, 56)] int size)
    {
        DinoVisionTransformer reference = TinyModel();
        using TorchDinoV2 twin = TorchTwin(reference);
        float[] pixels = Pixels(2, size, size);

        // A bf16 checkpoint (every tensor rounded to bf16) loaded into the fp32 model, and bf16 pixels.
        var bf16State = reference.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.To(DType.BFloat16));
        DinoVisionTransformer model = new(VisionConfig.Tiny, new Random(99));
        model.LoadStateDict(bf16State);
        Assert.That(model.PosEmbed.DType, Is.EqualTo(DType.Float32));
        VisionOutput o = model.Forward(EngineTensor.FromArray(pixels, [2, 3, size, size]).To(DType.BFloat16));

        using var noGrad = torch.no_grad();
        var r = twin.Forward(torch.tensor(pixels, [2, 3, size, size]));
        AssertAll($"bf16 weights and pixels vs torch fp32 {size}",
        [
            ("x_prenorm", RelativeError(Values(o.XPrenorm), Values(r.XPrenorm))),
            ("x_norm", RelativeError(Values(o.XNorm), Values(r.XNorm))),
            ("cls", RelativeError(Values(o.Cls), Values(r.Cls))),
            ("patches", RelativeError(Values(o.Patches), Values(r.Patches))),
        ], 2e-2);
    }

    [Test]
    public void InterpolatedTableIsCachedWithoutGradAndRebuiltWhenItChanges()
    {
        DinoVisionTransformer model = TinyModel();
        using TorchDinoV2 twin = TorchTwin(model);
        float[] pixels = Pixels(1, 56, 70);
        var x = EngineTensor.FromArray(pixels, [1, 3, 56, 70]);

        float[] first, second;
        using (GradMode.NoGrad())
        {
            first = Values(model.Forward(x).XNorm);
            second = Values(model.Forward(x).XNorm);
            model.Forward(EngineTensor.FromArray(Pixels(1, 28, 28), [1, 3, 28, 28]));
            model.Forward(EngineTensor.FromArray(Pixels(1, 42, 42), [1, 3, 42, 42])); // trained grid: the table itself
        }
        Assert.That(second, Is.EqualTo(first));
        Assert.That(model.Positions.CachedGrids, Is.EqualTo(2), "one cached table per non-trained grid");

        // New table values (as after loading a checkpoint or an optimizer step) are picked up.
        float[] newTable = Normal(new Random(77), (int)model.PosEmbed.Numel, std: 0.5);
        model.PosEmbed.CopyFrom(EngineTensor.FromArray(newTable, model.PosEmbed.ShapeArray));
        twin.LoadEngineState(model.StateDict());
        float[] third;
        using (GradMode.NoGrad()) third = Values(model.Forward(x).XNorm);
        Assert.That(model.Positions.CachedGrids, Is.EqualTo(1));
        using var noGrad = torch.no_grad();
        float[] expected = Values(twin.Forward(torch.tensor(pixels, [1, 3, 56, 70])).XNorm);
        Assert.That(RelativeError(third, expected), Is.LessThanOrEqualTo(Fp32Tolerance));
        Assert.That(RelativeError(first, expected), Is.GreaterThan(1e-2), "the old table must not be served");

        // With grad recording the table is rebuilt differentiably each time (pos_embed gets a gradient).
        VisionOutput o = model.Forward(x);
        EngineLoss(o, LossWeights(o, 2)).Backward();
        Assert.That(model.PosEmbed.Grad, Is.Not.Null);
        Assert.That(Values(model.PosEmbed.Grad!).Skip(32).Any(v => v != 0f), Is.True, "the grid part of pos_embed gets a gradient through the resize");
    }
}
