using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Text;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Tests.Text;

/// <summary>Activation checkpointing (LoRA dropout on), the ILGPU simulator, and resize_token_embeddings.</summary>
[TestFixture]
public sealed class Gpt2TrainingTests
{
    private static (float[] Hidden, Dictionary<string, float[]> Grads, ulong[] Offsets) TrainStep(Gpt2Config config, bool checkpoint)
    {
        var model = new Gpt2Model(config, new Random(21)) { UseActivationCheckpointing = checkpoint };
        model.Train();
        if (config.Lora is not null) TextTestData.MakeLoraNonZero(model, seed: 22);
        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 23, padId: 3);
        float[] hidden = [];
        // Two steps, so the dropout stream's position after the first one matters too.
        for (int step = 0; step < 2; step++)
        {
            Tensor h = model.Forward(ids, mask);
            TextTestData.Objective(h, TextTestData.Gaussians((int)h.Numel, seed: 24 + step)).Backward();
            hidden = h.ToFloatArray();
        }
        return (hidden, TextTestData.Grads(model), model.LoraLayers().Select(l => l.Layer.DropoutOffset).ToArray());
    }

    [TestCase(true)]
    [TestCase(false)]
    public void CheckpointingGivesTheSameGradients(bool lora)
    {
        Gpt2Config config = TextTestData.Small(lora) with { Lora = lora ? new LoraConfig { Rank = 4, Alpha = 8f, Dropout = 0.3f } : null };
        var plain = TrainStep(config, checkpoint: false);
        var ckpt = TrainStep(config, checkpoint: true);
        Assert.That(ckpt.Hidden, Is.EqualTo(plain.Hidden).Within(1e-6f));
        Assert.That(ckpt.Grads.Keys, Is.EquivalentTo(plain.Grads.Keys));
        Assert.That(plain.Grads, Is.Not.Empty);
        foreach ((string name, float[] g) in plain.Grads)
            Assert.That(TextTestData.RelErr(ckpt.Grads[name], g), Is.LessThanOrEqualTo(1e-6), name);
        Assert.That(ckpt.Offsets, Is.EqualTo(plain.Offsets), "the dropout streams end in the same place");
        if (lora) Assert.That(plain.Offsets, Has.All.EqualTo(2UL), "one mask per adapter per step");
    }

    [Test]
    public void DropoutIsActiveOnlyInTraining()
    {
        Gpt2Config config = TextTestData.Small();
        var model = new Gpt2Model(config, new Random(31));
        TextTestData.MakeLoraNonZero(model, seed: 32);
        (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 33, padId: 0);
        using var _ = TextTestData.NoGrad();
        model.Eval();
        float[] eval1 = model.Forward(ids, mask).ToFloatArray(), eval2 = model.Forward(ids, mask).ToFloatArray();
        Assert.That(eval1, Is.EqualTo(eval2));
        model.Train();
        float[] train1 = model.Forward(ids, mask).ToFloatArray(), train2 = model.Forward(ids, mask).ToFloatArray();
        Assert.That(TextTestData.RelErr(train1, eval1), Is.GreaterThan(1e-4), "LoRA dropout changes the output");
        Assert.That(TextTestData.RelErr(train2, train1), Is.GreaterThan(1e-4), "each step draws new masks");
    }

    [Test]
    public void IlgpuSimulatorMatchesCpu()
    {
        Gpt2Config config = TextTestData.Small();
        Device sim = Device.Parse("ilgpu-cpu");
        var results = new List<(float[] Hidden, Dictionary<string, float[]> Grads)>();
        foreach (Device device in new[] { Device.Cpu, sim })
        {
            var model = new Gpt2Model(config, new Random(41), device);
            model.Eval();
            TextTestData.MakeLoraNonZero(model, seed: 42);
            (Tensor ids, Tensor mask) = TextTestData.Batch(config.VocabSize, seed: 43, padId: 0, device);
            Tensor h = model.Forward(ids, mask);
            Assert.That(h.Device, Is.SameAs(device));
            TextTestData.Objective(h, TextTestData.Gaussians((int)h.Numel, seed: 44)).Backward();
            results.Add((h.ToFloatArray(), TextTestData.Grads(model)));
        }
        double err = TextTestData.RelErr(results[1].Hidden, results[0].Hidden);
        TestContext.Out.WriteLine($"ilgpu-cpu vs cpu hidden rel err {err:E2}");
        Assert.That(err, Is.LessThanOrEqualTo(1e-5));
        foreach ((string name, float[] g) in results[0].Grads)
            Assert.That(TextTestData.RelErr(results[1].Grads[name], g), Is.LessThanOrEqualTo(1e-5), name);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ResizeKeepsOldRowsAndFrozenState(bool lora)
    {
        Gpt2Config config = TextTestData.Small(lora) with { VocabSize = 200 };
        var model = new PeftOrPlain(config, lora).Model;
        float[] before = model.Transformer.Wte.Weight.ToFloatArray();
        string key = (lora ? "base_model.model." : "") + "transformer.wte.weight";

        model.ResizeTokenEmbeddings(206, new Random(51));   // MaMA's six added tokens
        Parameter wte = model.Transformer.Wte.Weight;
        Assert.That(wte.ShapeArray, Is.EqualTo(new[] { 206, config.NEmbd }));
        Assert.That(((Module)model).StateDict()[key], Is.SameAs(wte), "the state dict holds the new table under the same key");
        Assert.That(((Module)model).NamedParameters().Single(p => p.Name == key).Parameter, Is.SameAs(wte));
        float[] after = wte.ToFloatArray();
        Assert.That(after.AsSpan(0, before.Length).ToArray(), Is.EqualTo(before), "old rows kept");
        float[] added = after[before.Length..];
        double std = Math.Sqrt(added.Average(v => (double)v * v));
        Assert.That(std, Is.InRange(0.012, 0.028), "new rows N(0, 0.02)");
        Assert.That(wte.IsFrozen, Is.EqualTo(lora), "frozen under LoRA (SPEC section 4), trainable without");

        // The new ids work, and gradients reach the new rows only when the table trains.
        var ids = Tensor.FromArray(new long[] { 1, 203, 205, 2 }, [1, 4]);
        var mask = Tensor.FromArray(new long[] { 1, 1, 1, 1 }, [1, 4]);
        Tensor h = model.Forward(ids, mask);
        TextTestData.Objective(h, TextTestData.Gaussians((int)h.Numel, seed: 52)).Backward();
        if (lora) Assert.That(wte.Grad, Is.Null);
        else Assert.That(wte.Grad!.ToFloatArray().Skip(203 * config.NEmbd).Take(config.NEmbd), Has.Some.Not.EqualTo(0f));

        model.ResizeTokenEmbeddings(200, new Random(53));
        Assert.That(model.Transformer.Wte.Weight.ToFloatArray(), Is.EqualTo(before), "shrinking keeps the first rows");
    }

    /// <summary>Either wrapper, as the interface the MaMA model holds.</summary>
    private sealed class PeftOrPlain(Gpt2Config config, bool peft)
    {
        public IGpt2TextModel Model { get; } = peft ? new PeftGpt2Model(config, new Random(50)) : new Gpt2Model(config, new Random(50));
    }
}
