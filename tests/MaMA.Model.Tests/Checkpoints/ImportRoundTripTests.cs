using System.Text.Json;
using MaMA.Engine.Autograd;
using MaMA.Interop.Torch;
using MaMA.Interop.Torch.Reference;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;
using TorchSharp;
using static MaMA.Model.Tests.Checkpoints.CheckpointTestKit;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.Checkpoints;

/// <summary>
/// Checkpoints written under their original names and in their original file kinds (PyBridge,
/// TorchSharp), imported with <c>mama import</c> in process, loaded with <see cref="ModelFactory"/>
/// and run: the engine model must reproduce the TorchSharp reference module (rel &lt;= 1e-4).
/// </summary>
[TestFixture]
[NonParallelizable] // Console redirection in Cli.Run
public sealed class ImportRoundTripTests
{
    private const double Tol = 1e-4;

    private static (DinoVisionTransformer Engine, TorchDinoV2 Torch) Vit(int seed)
    {
        var engine = new DinoVisionTransformer(TinyVision, new Random(seed));
        Randomize(engine, seed);
        var twin = new TorchDinoV2(TinyVision);
        twin.LoadEngineState(engine.StateDict());
        return (engine, twin);
    }

    private static void AssertVitMatches(string dir, TorchDinoV2 twin, double tol = Tol)
    {
        var model = ModelFactory.Load<DinoVisionTransformer>(dir);
        model.Eval();
        var pixels = Pixels(2, TinyVision.ImageSize, 7);
        using var _ = GradMode.NoGrad();
        using var __ = torch.no_grad();
        VisionOutput ours = model.Forward(pixels);
        var theirs = twin.Forward(TorchBridge.ToTorch(pixels));
        double err = RelErr(ours.XNorm, theirs.XNorm);
        TestContext.Out.WriteLine($"x_norm rel err {err:E2}");
        Assert.That(err, Is.LessThanOrEqualTo(tol));
    }

    [Test]
    public void DinoV2TrainingCheckpointPthNestedUnderTeacherBackbone()
    {
        (_, TorchDinoV2 twin) = Vit(1);
        string dir = TempDir("src");
        string pth = Path.Combine(dir, "teacher_checkpoint.pth");
        var teacher = Rename(TorchState(twin), k => "backbone." + k);
        teacher["dino_head.mlp.0.weight"] = torch.randn(8, 64);
        SavePth(pth, new Dictionary<string, object> { ["teacher"] = teacher, ["iteration"] = 12500 });
        string outDir = Path.Combine(dir, "vit");
        string log = Import("--from", pth, "--arch", "dinov2", "--out", outDir);
        Assert.That(log, Does.Contain("'teacher'").And.Contain("'backbone' part").And.Contain("1 tensors of other parts ignored"));
        ModelConfigFile config = ModelConfigFile.Load(Path.Combine(outDir, "config.json"));
        Assert.That(config.Vision, Is.EqualTo(TinyVision with { LayerScaleInit = config.Vision!.LayerScaleInit }));
        AssertVitMatches(outDir, twin);
    }

    [Test]
    public void DinoV2ShardedSafetensorsWithIndex()
    {
        (_, TorchDinoV2 twin) = Vit(2);
        string dir = TempDir("hf");
        var state = TorchState(twin);
        var keys = state.Keys.ToList();
        var shards = new[] { keys.Take(keys.Count / 2).ToList(), keys.Skip(keys.Count / 2).ToList() };
        var map = new Dictionary<string, string>();
        for (int i = 0; i < 2; i++)
        {
            string name = $"model-0000{i + 1}-of-00002.safetensors";
            SaveSafetensors(Path.Combine(dir, name), shards[i].ToDictionary(k => k, k => state[k]));
            foreach (string k in shards[i]) map[k] = name;
        }
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
        string outDir = Path.Combine(TempDir("out"), "vit");
        Assert.That(Import("--from", dir, "--arch", "dinov2", "--out", outDir), Does.Contain("2 shards"));
        AssertVitMatches(outDir, twin);
    }

    [Test]
    public void DinoV2TorchSharpDatToBfloat16()
    {
        (_, TorchDinoV2 twin) = Vit(3);
        string dat = Path.Combine(TempDir("src"), "vit.dat");
        twin.save(dat);
        string outDir = Path.Combine(TempDir("out"), "vit-bf16");
        Import("--from", dat, "--arch", "dinov2", "--out", outDir, "--dtype", "bfloat16");
        using (ModelCheckpoint ck = ModelDirectory.Load(outDir))
        {
            Assert.That(ck.Config.Dtype, Is.EqualTo("bfloat16"));
            Assert.That(ck.Weights.Entries["blocks.0.attn.qkv.weight"].DType, Is.EqualTo(global::MaMA.Engine.Tensors.DType.BFloat16));
        }
        AssertVitMatches(outDir, twin, tol: 2e-2); // bf16 weights: ~3 significant digits
    }

    private static Dictionary<string, object> HfGpt2Config(Gpt2Config c) => new()
    {
        ["model_type"] = "gpt2", ["vocab_size"] = c.VocabSize, ["n_positions"] = c.NPositions, ["n_embd"] = c.NEmbd, ["n_layer"] = c.NLayer,
        ["n_head"] = c.NHead, ["n_inner"] = c.NInner, ["layer_norm_epsilon"] = 1e-5, ["activation_function"] = "gelu_new",
        ["scale_attn_by_inverse_layer_idx"] = c.ScaleAttnByInverseLayerIdx, ["scale_attn_weights"] = true,
        ["embd_pdrop"] = c.EmbdPdrop, ["attn_pdrop"] = c.AttnPdrop, ["resid_pdrop"] = c.ResidPdrop,
    };

    private static void AssertGpt2Matches(IGpt2TextModel model, TorchGpt2 twin)
    {
        ((global::MaMA.Engine.Nn.Module)model).Eval();
        twin.eval();
        (var ids, var mask) = Tokens(model.Config.VocabSize, 5);
        using var _ = GradMode.NoGrad();
        using var __ = torch.no_grad();
        double err = RelErr(model.Forward(ids, mask), twin.Forward(TorchBridge.ToTorch(ids), TorchBridge.ToTorch(mask)));
        TestContext.Out.WriteLine($"hidden rel err {err:E2}");
        Assert.That(err, Is.LessThanOrEqualTo(Tol));
    }

    [Test]
    public void Gpt2HuggingFaceFolderWithLmHeadBuffersAndTokenizer()
    {
        // Dropouts other than HF's 0.1 default, so the config equality below shows config.json's are read.
        Gpt2Config cfg = TinyText(lora: false) with { EmbdPdrop = 0f, AttnPdrop = 0.05f, ResidPdrop = 0.2f };
        var engine = new Gpt2Model(cfg, new Random(4));
        Randomize(engine, 4);
        var twin = new TorchGpt2(cfg);
        twin.LoadFrom(engine.StateDict());
        // From the engine's state (same values): TorchGpt2.state_dict() also lists TorchSharp's auto-registered fields.
        var state = ToTorch(engine.StateDict());
        state["lm_head.weight"] = state["transformer.wte.weight"];
        for (int i = 0; i < cfg.NLayer; i++)
        {
            state[$"transformer.h.{i}.attn.bias"] = torch.ones(1, 1, cfg.NPositions, cfg.NPositions).tril();
            state[$"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4f);
        }
        string dir = TempDir("biomedlm");
        SavePth(Path.Combine(dir, "pytorch_model.bin"), state);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(HfGpt2Config(cfg)));
        File.WriteAllText(Path.Combine(dir, "vocab.json"), "{\"a\": 0}");
        File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n");
        string outDir = Path.Combine(TempDir("out"), "gpt2");
        string log = Import("--from", dir, "--arch", "gpt2", "--out", outDir);
        Assert.That(log, Does.Contain("LM head").And.Contain("causal-mask buffer"));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "tokenizer", "merges.txt")), Does.StartWith("#version"));
        var model = ModelFactory.Load<Gpt2Model>(outDir);
        Assert.That(model.Config with { Lora = null }, Is.EqualTo(cfg));
        AssertGpt2Matches(model, twin);
    }

    [Test]
    public void Gpt2ModelKeysPlusPeftAdapterFolder()
    {
        Gpt2Config cfg = TinyText(lora: true);
        var engine = new PeftGpt2Model(cfg, new Random(5));
        Randomize(engine, 5);
        var twin = new TorchGpt2(cfg with { Lora = null });
        twin.LoadFrom(MergeLora(engine.Model.StateDict(), cfg.Lora!.Scaling, k => k));
        var state = ToTorch(engine.Model.StateDict());
        string dir = TempDir("src");
        string baseDir = Directory.CreateDirectory(Path.Combine(dir, "base")).FullName;
        string adapterDir = Directory.CreateDirectory(Path.Combine(dir, "adapter")).FullName;
        // HF GPT2Model files have no "transformer." prefix; save_pretrained adapters drop the adapter name.
        SaveSafetensors(Path.Combine(baseDir, "model.safetensors"),
            state.Where(kv => !kv.Key.Contains(".lora_")).ToDictionary(kv => kv.Key["transformer.".Length..], kv => kv.Value));
        File.WriteAllText(Path.Combine(baseDir, "config.json"), JsonSerializer.Serialize(HfGpt2Config(cfg)));
        SaveSafetensors(Path.Combine(adapterDir, "adapter_model.safetensors"),
            state.Where(kv => kv.Key.Contains(".lora_")).ToDictionary(kv => "base_model.model." + kv.Key.Replace(".default.", ".", StringComparison.Ordinal), kv => kv.Value));
        File.WriteAllText(Path.Combine(adapterDir, "adapter_config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["peft_type"] = "LORA", ["r"] = 4, ["lora_alpha"] = 8, ["lora_dropout"] = 0.1, ["target_modules"] = new[] { "c_attn" }, ["fan_in_fan_out"] = true,
        }));
        string outDir = Path.Combine(dir, "gpt2-lora");
        Import("--from", baseDir, "--adapter", adapterDir, "--arch", "gpt2", "--out", outDir);
        var model = ModelFactory.Load<PeftGpt2Model>(outDir);
        Assert.That(model.Config.Lora!.Rank, Is.EqualTo(4));
        Assert.That(model.Config.Lora.Alpha, Is.EqualTo(8f));
        AssertGpt2Matches(model, twin);
    }

    [Test]
    public void PeftAdapterConfigGivesPeftsScaling()
    {
        string dir = TempDir("adapter");
        global::MaMA.Engine.Serialization.Safetensors.Write(Path.Combine(dir, "adapter_model.safetensors"),
            new Dictionary<string, global::MaMA.Engine.Tensors.Tensor> { ["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"] = global::MaMA.Engine.Tensors.Tensor.Zeros([4, 8]) });
        LoraConfig Open(Dictionary<string, object> config)
        {
            config["peft_type"] = "LORA";
            config["r"] = 4;
            config["target_modules"] = new[] { "c_attn" };
            File.WriteAllText(Path.Combine(dir, "adapter_config.json"), JsonSerializer.Serialize(config));
            (global::MaMA.Interop.Torch.Import.CheckpointSource source, LoraConfig lora) = global::MaMA.Interop.Torch.Import.PeftAdapter.Open(dir);
            source.Dispose();
            return lora;
        }

        Assert.That(Open(new() { ["lora_alpha"] = 8 }).Scaling, Is.EqualTo(2f), "alpha / r");
        // rsLoRA: alpha / sqrt(r). Read as plain LoRA this adapter's output was off by sqrt(r).
        Assert.That(Open(new() { ["lora_alpha"] = 8, ["use_rslora"] = true }).Scaling, Is.EqualTo(4f).Within(1e-6f));
        Assert.That(Open(new()).Scaling, Is.EqualTo(2f), "PEFT's default lora_alpha is 8");
        Assert.That(Open(new() { ["lora_alpha"] = 8, ["alpha_pattern"] = new Dictionary<string, object>(), ["rank_pattern"] = new Dictionary<string, object>() }).Scaling, Is.EqualTo(2f));
        Assert.That(() => Open(new() { ["lora_alpha"] = 8, ["alpha_pattern"] = new Dictionary<string, object> { ["h.0.attn.c_attn"] = 16 } }),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("alpha_pattern").And.Message.Contains("h.0.attn.c_attn"));
        Assert.That(() => Open(new() { ["lora_alpha"] = 8, ["rank_pattern"] = new Dictionary<string, object> { ["c_attn"] = 2 } }),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("rank_pattern"));
    }

    [Test]
    public void Gpt2PeftInMemoryStateDictWithBaseLayerAndHfConfigOption()
    {
        Gpt2Config cfg = TinyText(lora: true);
        var engine = new PeftGpt2Model(cfg, new Random(6));
        Randomize(engine, 6);
        // Newer PEFT in memory: base_model.model. prefix, wrapped base weights under base_layer.
        var state = Rename(ToTorch(engine.Model.StateDict()), k => "base_model.model." + k.Replace("c_attn.weight", "c_attn.base_layer.weight", StringComparison.Ordinal)
                                                                      .Replace("c_attn.bias", "c_attn.base_layer.bias", StringComparison.Ordinal));
        string dir = TempDir("src");
        string pth = Path.Combine(dir, "peft.pt");
        SavePth(pth, state);
        string hf = Path.Combine(dir, "hf-config.json");
        File.WriteAllText(hf, JsonSerializer.Serialize(HfGpt2Config(cfg)));
        string outDir = Path.Combine(dir, "gpt2");
        Import("--from", pth, "--arch", "gpt2", "--out", outDir, "--config", hf);
        var model = ModelFactory.Load<PeftGpt2Model>(outDir);
        // LoRA alpha is not in a state dict: inference uses MaMA's 32, so compare with the same scaling.
        Assert.That(model.Config.Lora!.Alpha, Is.EqualTo(32f));
        var reference = new TorchGpt2(cfg with { Lora = null });
        reference.LoadFrom(MergeLora(engine.Model.StateDict(), 32f / cfg.Lora!.Rank, k => k));
        AssertGpt2Matches(model, reference);
    }

    [Test]
    public void MaMALightningCheckpointWithExtrasAndBaseLayer()
    {
        MaMAConfig cfg = TinyMaMA;
        var engine = new MaMAModel(cfg, new Random(8));
        Randomize(engine, 8);
        // The reference is the adapter-free network with merged weights (PEFT's in-memory prefix removed).
        var twin = new TorchMaMA(cfg with { Text = cfg.Text with { Lora = null } });
        twin.LoadEngineState(MergeLora(engine.StateDict(), cfg.Text.Lora!.Scaling, k => k.Replace("text_encoder_q.model.base_model.model.", "text_encoder_q.model.", StringComparison.Ordinal)));
        var state = Rename(ToTorch(engine.StateDict()), k => k.Replace("c_attn.weight", "c_attn.base_layer.weight", StringComparison.Ordinal)
                                                   .Replace("c_attn.bias", "c_attn.base_layer.bias", StringComparison.Ordinal));
        for (int i = 0; i < cfg.Text.NLayer; i++)
            state[$"text_encoder_q.model.base_model.model.transformer.h.{i}.attn.bias"] = torch.ones(1, 1, cfg.Text.NPositions, cfg.Text.NPositions).tril();
        var ckpt = new Dictionary<string, object>
        {
            ["epoch"] = 3,
            ["global_step"] = 1200,
            ["pytorch-lightning_version"] = "2.1.3",
            ["state_dict"] = state,
            ["optimizer_states"] = new List<object> { new Dictionary<string, object> { ["state"] = new Dictionary<string, object> { ["0"] = torch.zeros(3) }, ["param_groups"] = new List<object> { new Dictionary<string, object> { ["lr"] = 2e-5, ["betas"] = new List<object> { 0.9, 0.999 } } } } },
            ["lr_schedulers"] = new List<object> { new Dictionary<string, object> { ["last_epoch"] = 1200 } },
            ["hyper_parameters"] = new Dictionary<string, object> { ["img_size"] = 518, ["peft"] = "lora", ["llm_type"] = "gpt", ["learning_rate"] = 4e-5, ["slip"] = true },
        };
        string dir = TempDir("src");
        string path = Path.Combine(dir, "epoch=3-step=1200.ckpt");
        SavePth(path, ckpt);
        string outDir = Path.Combine(dir, "mama");
        string log = Import("--from", path, "--arch", "mama", "--out", outDir);
        Assert.That(log, Does.Contain("state_dict").And.Contain("hyper_parameters"));
        var model = ModelFactory.Load<MaMAModel>(outDir);
        model.Eval();
        twin.eval();
        var pixels = Pixels(2, cfg.Vision.ImageSize, 9);
        (var ids, var mask) = Tokens(cfg.Text.VocabSize, 10, t: 12);
        using var _ = GradMode.NoGrad();
        using var __ = torch.no_grad();
        var theirs = twin.Forward(TorchBridge.ToTorch(pixels), TorchBridge.ToTorch(ids), TorchBridge.ToTorch(mask), null, step: -1);
        double img = RelErr(model.EncodeImage(pixels).Embedding, theirs.ImageEmbedding);
        double txt = RelErr(model.EncodeText(ids, mask).Embedding, theirs.TextEmbedding);
        TestContext.Out.WriteLine($"image embedding {img:E2}, text embedding {txt:E2}");
        Assert.That(img, Is.LessThanOrEqualTo(Tol));
        Assert.That(txt, Is.LessThanOrEqualTo(Tol));
        // The ViT alone, from the same Lightning checkpoint.
        string vitDir = Path.Combine(dir, "vit-from-mama");
        Assert.That(Import("--from", path, "--arch", "dinov2", "--out", vitDir), Does.Contain("img_encoder_q.model"));
        var vitTwin = new TorchDinoV2(cfg.Vision);
        vitTwin.LoadEngineState(engine.ImageEncoder.Model.StateDict());
        AssertVitMatches(vitDir, vitTwin);
    }
}
