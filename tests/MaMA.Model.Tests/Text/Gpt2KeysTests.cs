using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Text;

namespace MaMA.Model.Tests.Text;

/// <summary>State-dict keys, shapes, frozen parameters and counts: HF GPT2LMHeadModel minus lm_head, PEFT's prefix, SPEC section 4.</summary>
[TestFixture]
public sealed class Gpt2KeysTests
{
    private static void AssertMatchesLayout(Module model, Gpt2Config config, string prefix)
    {
        var own = model.NamedParameters().ToList();
        IReadOnlyList<Gpt2StateDictLayout.Entry> layout = Gpt2StateDictLayout.For(config);
        Assert.That(own.Select(p => p.Name), Is.EqualTo(layout.Select(e => prefix + e.Key)), "keys in state-dict order");
        Assert.That(model.StateDict().Keys, Is.EqualTo(layout.Select(e => prefix + e.Key)), "no buffers");
        for (int i = 0; i < layout.Count; i++)
        {
            Assert.That(own[i].Parameter.ShapeArray, Is.EqualTo(layout[i].Shape), layout[i].Key);
            Assert.That(!own[i].Parameter.IsFrozen, Is.EqualTo(layout[i].Trainable), layout[i].Key + " trainable");
        }
    }

    [Test]
    public void TinyModelHasHfKeysAndOnlyAdaptersTrain()
    {
        Gpt2Config config = Gpt2Config.Tiny;
        var model = new Gpt2Model(config, new Random(1));
        AssertMatchesLayout(model, config, "");
        var keys = model.StateDict().Keys.ToList();
        Assert.That(keys.Take(2), Is.EqualTo(new[] { "transformer.wte.weight", "transformer.wpe.weight" }));
        Assert.That(keys, Does.Contain("transformer.h.1.attn.c_attn.lora_A.default.weight"));
        Assert.That(keys, Does.Contain("transformer.ln_f.bias"));
        Assert.That(keys.Where(k => k.Contains("lora_")).ToList(), Has.Count.EqualTo(2 * config.NLayer), "LoRA on c_attn only");
        Assert.That(keys, Has.None.Contains("lm_head"));
        Assert.That(model.Parameters().Where(p => !p.IsFrozen).Sum(p => p.Numel), Is.EqualTo(config.NLayer * 8L * (32 + 96)));
        Assert.That(model.StateDict()["transformer.wte.weight"].ShapeArray, Is.EqualTo(new[] { 50263, 32 }));
    }

    [Test]
    public void PlainModelTrainsEverything()
    {
        Gpt2Config config = TextTestData.Small(lora: false);
        var model = new Gpt2Model(config, new Random(2));
        AssertMatchesLayout(model, config, "");
        Assert.That(model.Parameters(), Has.All.Matches<Parameter>(p => !p.IsFrozen));
        Assert.That(() => new PeftGpt2Model(config, new Random(2)), Throws.ArgumentException.With.Message.Contains("LoRA"));
    }

    [Test]
    public void OtherTargetModulesFollowPeftMatching()
    {
        // The published code's IA3 variant targets ["c_attn", "mlp.c_proj"]: "mlp.c_proj" must not catch attn.c_proj.
        Gpt2Config config = TextTestData.Small() with { Lora = new LoraConfig { TargetModules = ["c_attn", "mlp.c_proj"] } };
        var model = new Gpt2Model(config, new Random(3));
        AssertMatchesLayout(model, config, "");
        Assert.That(model.LoraLayers().Select(l => l.Name), Is.EqualTo(Enumerable.Range(0, config.NLayer)
            .SelectMany(i => new[] { $"h.{i}.attn.c_attn", $"h.{i}.mlp.c_proj" })));
    }

    [Test]
    public void PeftModelHasPeftKeysAndThePublishedCheckpointPrefix()
    {
        Gpt2Config config = TextTestData.Small();
        var peft = new PeftGpt2Model(config, new Random(4));
        AssertMatchesLayout(peft, config, "base_model.model.");
        var encoder = new Wrapper("text_encoder_q", new Wrapper("model", peft));
        Assert.That(encoder.StateDict().Keys, Does.Contain("text_encoder_q.model.base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight"));
        Assert.That(encoder.StateDict().Keys, Does.Contain("text_encoder_q.model.base_model.model.transformer.wte.weight"));
    }

    [Test]
    public void InitialisationFollowsHuggingFace()
    {
        Gpt2Config config = Gpt2Config.Tiny with { NEmbd = 64, NInner = 256 };
        var model = new Gpt2Model(config, new Random(5));
        var sd = model.StateDict();
        Assert.That(Std(sd["transformer.wte.weight"]), Is.EqualTo(0.02).Within(0.0005));
        Assert.That(Std(sd["transformer.h.0.mlp.c_fc.weight"]), Is.EqualTo(0.02).Within(0.001));
        Assert.That(Std(sd["transformer.h.0.attn.c_attn.weight"]), Is.EqualTo(0.02).Within(0.001));
        double residual = 0.02 / Math.Sqrt(2 * config.NLayer);
        Assert.That(Std(sd["transformer.h.1.mlp.c_proj.weight"]), Is.EqualTo(residual).Within(0.0005));
        Assert.That(Std(sd["transformer.h.1.attn.c_proj.weight"]), Is.EqualTo(residual).Within(0.001));
        Assert.That(sd["transformer.h.0.attn.c_attn.bias"].ToFloatArray(), Has.All.EqualTo(0f));
        Assert.That(sd["transformer.h.0.ln_1.weight"].ToFloatArray(), Has.All.EqualTo(1f));
        Assert.That(sd["transformer.h.0.attn.c_attn.lora_B.default.weight"].ToFloatArray(), Has.All.EqualTo(0f), "B starts at zero");
        var seeds = model.LoraLayers().Select(l => l.Layer.DropoutSeed).ToList();
        Assert.That(seeds.Distinct().Count(), Is.EqualTo(seeds.Count), "each adapter draws its own dropout masks");
        Assert.That(sd.Keys.Where(k => k.EndsWith(".bias") || k.Contains(".ln_")).Select(k => ((Parameter)sd[k]).NoWeightDecay), Has.All.True);
    }

    [Test]
    public void BioMedLmLayoutHasSpecShapesAndCounts()
    {
        IReadOnlyList<Gpt2StateDictLayout.Entry> layout = Gpt2StateDictLayout.For(Gpt2Config.BioMedLM);
        var shapes = layout.ToDictionary(e => e.Key, e => e.Shape);
        Assert.That(layout, Has.Count.EqualTo(4 + 32 * 14));
        Assert.That(shapes["transformer.wte.weight"], Is.EqualTo(new[] { 28902, 2560 }));
        Assert.That(shapes["transformer.wpe.weight"], Is.EqualTo(new[] { 1024, 2560 }));
        Assert.That(shapes["transformer.h.31.attn.c_attn.weight"], Is.EqualTo(new[] { 2560, 7680 }));
        Assert.That(shapes["transformer.h.31.attn.c_attn.lora_A.default.weight"], Is.EqualTo(new[] { 8, 2560 }));
        Assert.That(shapes["transformer.h.31.attn.c_attn.lora_B.default.weight"], Is.EqualTo(new[] { 7680, 8 }));
        Assert.That(shapes["transformer.h.0.mlp.c_fc.weight"], Is.EqualTo(new[] { 2560, 10240 }));
        Assert.That(shapes["transformer.h.0.mlp.c_proj.weight"], Is.EqualTo(new[] { 10240, 2560 }));
        Assert.That(shapes.Keys, Has.None.StartsWith("transformer.h.32."));
        long total = layout.Sum(e => e.Numel), trainable = layout.Where(e => e.Trainable).Sum(e => e.Numel);
        Assert.That(trainable, Is.EqualTo(32L * 8 * (2560 + 7680)).And.EqualTo(2_621_440));
        Assert.That(total, Is.EqualTo(2_596_884_480L), "2.59e9 base (BioMedLM's '2.7B') + LoRA");
    }

    private static double Std(Tensor t)
    {
        float[] v = t.ToFloatArray();
        double mean = v.Average(x => (double)x);
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }

    private sealed class Wrapper : Module
    {
        public Wrapper(string name, Module child) => RegisterModule(name, child);
    }
}
