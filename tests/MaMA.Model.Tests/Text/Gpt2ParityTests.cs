using MaMA.Engine.Tensors;
using MaMA.Interop.Torch;
using MaMA.Interop.Torch.Reference;
using MaMA.Model.Text;
using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.Text;

/// <summary>
/// Gpt2Model against the TorchSharp reference written as HF GPT-2 + PEFT compute it (eval mode,
/// fp32, right-padded rows): hidden states, and gradients of sum(hidden * G) for the LoRA factors,
/// or for every parameter without LoRA. Tolerance 1e-4 relative (||a - b|| / ||b||).
/// </summary>
[TestFixture]
public sealed class Gpt2ParityTests
{
    private const double Tolerance = 1e-4;

    [TestCase(true)]
    [TestCase(false)]
    public void ForwardAndGradientsMatchTorch(bool lora)
    {
        Gpt2Config config = TextTestData.Small(lora);
        var model = new Gpt2Model(config, new Random(5));
        model.Eval();
        if (lora) TextTestData.MakeLoraNonZero(model, seed: 6);
        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 7, padId: config.VocabSize - 1);

        using var reference = new TorchGpt2(config);
        reference.LoadFrom(model.StateDict());
        reference.MarkTrainable();
        reference.eval();

        Tensor hidden = model.Forward(ids, mask);
        float[] g = TextTestData.Gaussians((int)hidden.Numel, seed: 8);
        TextTestData.Objective(hidden, g).Backward();

        using var scope = torch.NewDisposeScope();
        TorchTensor th = reference.Forward(TorchBridge.ToTorch(ids), TorchBridge.ToTorch(mask));
        (th * torch.tensor(g, th.shape)).sum().backward();

        double forwardErr = TextTestData.RelErr(hidden.ToFloatArray(), th.detach().data<float>().ToArray());
        TestContext.Out.WriteLine($"lora={lora}: hidden rel err {forwardErr:E2}");
        Assert.That(forwardErr, Is.LessThanOrEqualTo(Tolerance), "hidden states");
        using (TextTestData.NoGrad())
        {
            // The mask matters: padded positions (kept by the reference pooling) attend to real keys only.
            Tensor unmasked = model.Forward(ids, Tensor.FromArray(Enumerable.Repeat(1L, (int)mask.Numel).ToArray(), mask.ShapeArray));
            Assert.That(TextTestData.RelErr(unmasked.ToFloatArray(), hidden.ToFloatArray()), Is.GreaterThan(1e-3), "padding mask is applied");
        }

        Dictionary<string, float[]> mine = TextTestData.Grads(model);
        var theirs = reference.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.data<float>().ToArray());
        Assert.That(mine.Keys, Is.EquivalentTo(theirs.Keys), "the same parameters get gradients");
        if (lora)
            Assert.That(mine.Keys, Has.All.Contains(".lora_"), "only the adapters train under LoRA");
        else
            Assert.That(mine, Has.Count.EqualTo(model.NamedParameters().Count()), "every parameter trains without LoRA");
        double worst = 0;
        foreach ((string name, float[] grad) in mine)
        {
            double err = TextTestData.RelErr(grad, theirs[name]);
            worst = Math.Max(worst, err);
            Assert.That(err, Is.LessThanOrEqualTo(Tolerance), name);
        }
        TestContext.Out.WriteLine($"lora={lora}: worst gradient rel err {worst:E2} over {mine.Count} tensors");
    }

    [Test]
    public void PeftModelMatchesTorchUnderItsPrefix()
    {
        Gpt2Config config = TextTestData.Small();
        var model = new PeftGpt2Model(config, new Random(9));
        model.Eval();
        TextTestData.MakeLoraNonZero(model, seed: 10);
        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 11, padId: 0);

        using var reference = new TorchGpt2(config);
        reference.LoadFrom(model.StateDict().Select(kv => KeyValuePair.Create(kv.Key["base_model.model.".Length..], kv.Value)));
        reference.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        float[] expected = reference.Forward(TorchBridge.ToTorch(ids), TorchBridge.ToTorch(mask)).data<float>().ToArray();
        using (TextTestData.NoGrad())
            Assert.That(TextTestData.RelErr(model.Forward(ids, mask).ToFloatArray(), expected), Is.LessThanOrEqualTo(Tolerance));
    }

    [Test]
    public void MergedAdaptersGiveTheSameOutput()
    {
        Gpt2Config config = TextTestData.Small();
        var model = new PeftGpt2Model(config, new Random(12));
        model.Eval();
        TextTestData.MakeLoraNonZero(model, seed: 13);
        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 14, padId: 0);
        float[] before = model.Forward(ids, mask).ToFloatArray();
        float[] weight = model.LoraLayers().First().Layer.Weight.ToFloatArray();

        model.MergeAdapters();
        Assert.That(model.LoraLayers().Select(l => l.Layer.IsMerged), Has.All.True);
        Assert.That(TextTestData.RelErr(model.Forward(ids, mask).ToFloatArray(), before), Is.LessThanOrEqualTo(1e-5));
        model.UnmergeAdapters();
        Assert.That(model.LoraLayers().Select(l => l.Layer.IsMerged), Has.All.False);
        Assert.That(model.LoraLayers().First().Layer.Weight.ToFloatArray(), Is.EqualTo(weight).Within(1e-6f));
        Assert.That(TextTestData.RelErr(model.Forward(ids, mask).ToFloatArray(), before), Is.LessThanOrEqualTo(1e-6));
    }
}
