using System.Text.Json;
using MaMA.Data.Text;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;
using MaMA.Training.Pretraining;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Tests.Pretraining;

/// <summary>
/// <c>mama assemble</c> at a tiny size: a dinov2 folder and a plain gpt2 folder with a byte-level
/// tokenizer (256 byte tokens + &lt;|endoftext|&gt;, so MaMA's six tokens are 257-262) become a MaMA
/// folder that the pre-training path loads: both encoders' weights as given, the embedding resized
/// with frozen N(0, 0.02) rows, adapters that leave the text model unchanged, the tokenizer's ids.
/// </summary>
[TestFixture]
public sealed class MaMAAssemblerTests
{
    private const int BaseVocabulary = 257;
    private string _root = "";
    private string _vision = "", _text = "";

    [OneTimeSetUp]
    public void WriteEncoders()
    {
        _root = TestPaths.NewScratch("assemble");
        _vision = Path.Combine(_root, "dinov2");
        _text = Path.Combine(_root, "gpt2");
        var visionModel = (DinoVisionTransformer)ModelFactory.Create(ModelConfigFile.ForVision(VisionConfig.Tiny), seed: 11);
        ModelDirectory.Save(_vision, ModelConfigFile.ForVision(VisionConfig.Tiny), visionModel.StateDict());
        Gpt2Config text = PlainText();
        var textModel = (Gpt2Model)ModelFactory.Create(ModelConfigFile.ForText(text), seed: 12);
        ModelDirectory.Save(_text, ModelConfigFile.ForText(text), textModel.StateDict(), ByteLevelTokenizer(Path.Combine(_root, "tok")));
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_root, recursive: true);

    private static Gpt2Config PlainText() => Gpt2Config.Tiny with { VocabSize = BaseVocabulary, Lora = null };

    /// <summary>vocab.json of the 256 byte tokens and &lt;|endoftext|&gt; (id 256), no merges.</summary>
    private static string[] ByteLevelTokenizer(string dir)
    {
        Directory.CreateDirectory(dir);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.CharOf((byte)b).ToString()] = b;
        vocab["<|endoftext|>"] = 256;
        string vocabPath = Path.Combine(dir, "vocab.json"), mergesPath = Path.Combine(dir, "merges.txt");
        File.WriteAllText(vocabPath, JsonSerializer.Serialize(vocab));
        File.WriteAllText(mergesPath, "#version: 0.2\n");
        return [vocabPath, mergesPath];
    }

    private string Assemble(string name, ulong seed = 0, DType? dtype = null)
    {
        string output = Path.Combine(_root, name);
        MaMAAssembler.Assemble(new AssembleRequest(_vision, _text, output, seed, dtype));
        return output;
    }

    [Test]
    public void TheFolderHoldsBothEncodersAndLoadsAsThePretrainingStart()
    {
        string output = Assemble("mama");
        ModelSource.Resolved source = ModelSource.Resolve(output, activationCheckpointing: false);
        MaMATokenizer tokenizer = ModelSource.Tokenizer(source);
        Assert.That(tokenizer.VocabularySize, Is.EqualTo(BaseVocabulary + 6));
        Assert.That((source.Config.SepTokenId, source.Config.PadTokenId), Is.EqualTo((tokenizer.SepId, tokenizer.PadId)));
        Assert.That((tokenizer.PadId, tokenizer.SepId), Is.EqualTo((258, 260)), "bos, pad, mask, sep, unk, key after the base vocabulary");
        Assert.That(source.Config.Text.VocabSize, Is.EqualTo(BaseVocabulary + 6));
        Assert.That(source.Config.Text.Lora, Is.EqualTo(new LoraConfig()).Using<LoraConfig>((a, b) => a.Rank == b.Rank && a.Alpha == b.Alpha && a.Dropout == b.Dropout && a.TargetModules.SequenceEqual(b.TargetModules)));
        Assert.That((source.Config.EmbedDim, source.Config.LocalHiddenDim, source.Config.LateLossStep), Is.EqualTo((512, 2048, 8000L)), "the paper's heads and schedule");

        MaMAModel model = ModelSource.Build(source, seed: 99, Device.Cpu); // the pre-training path: random, then the folder, strictly
        using (ModelCheckpoint vision = ModelDirectory.Load(_vision))
            foreach (string name in vision.Weights.Names)
                Assert.That(model.StateDict()["img_encoder_q.model." + name].ToFloatArray(), Is.EqualTo(vision.Load(name).ToFloatArray()), name);

        const string textPrefix = "text_encoder_q.model.base_model.model.";
        using (ModelCheckpoint text = ModelDirectory.Load(_text))
        {
            foreach (string name in text.Weights.Names.Where(n => n != "transformer.wte.weight"))
                Assert.That(model.StateDict()[textPrefix + name].ToFloatArray(), Is.EqualTo(text.Load(name).ToFloatArray()), name);
            float[] wte = model.StateDict()[textPrefix + "transformer.wte.weight"].ToFloatArray();
            float[] original = text.Load("transformer.wte.weight").ToFloatArray();
            int c = PlainText().NEmbd;
            Assert.That(wte, Has.Length.EqualTo((BaseVocabulary + 6) * c));
            Assert.That(wte[..original.Length], Is.EqualTo(original), "the base rows");
            float[] added = wte[original.Length..];
            double std = Math.Sqrt(added.Select(v => (double)v * v).Average());
            Assert.That(std, Is.InRange(0.014, 0.026), "six new rows of N(0, 0.02)");
        }
        var peft = (PeftGpt2Model)model.TextEncoder.Model;
        // Of the text model only the adapters train: the base and the six new token rows stay frozen.
        string[] trainable = peft.NamedParameters().Where(np => !np.Parameter.IsFrozen).Select(np => np.Name).ToArray();
        Assert.That(trainable, Is.Not.Empty);
        Assert.That(trainable, Has.All.Contains(".lora_A.").Or.Contains(".lora_B."));
        Assert.That(trainable, Has.Length.EqualTo(2 * PlainText().NLayer), "A and B of every c_attn");
        Assert.That(peft.LoraLayers().SelectMany(l => l.Layer.LoraBAdapters.Parameters()).SelectMany(p => p.ToFloatArray()), Is.All.EqualTo(0f), "B = 0");
        Assert.That(peft.LoraLayers().SelectMany(l => l.Layer.LoraAAdapters.Parameters()).SelectMany(p => p.ToFloatArray()), Has.Some.Not.EqualTo(0f));
    }

    [Test]
    public void TheAdaptedTextModelStartsEqualToThePretrainedOne()
    {
        string output = Assemble("mama-forward");
        MaMAModel model = ModelSource.Build(ModelSource.Resolve(output, activationCheckpointing: false), seed: 3, Device.Cpu);
        model.Eval();
        var plain = ModelFactory.Load<Gpt2Model>(_text);
        plain.Eval();
        var rng = new Random(5);
        long[] ids = Enumerable.Range(0, 2 * 20).Select(_ => (long)rng.Next(BaseVocabulary)).ToArray();
        float[] mask = Enumerable.Repeat(1f, 2 * 20).ToArray();
        using IDisposable _ = GradMode.NoGrad();
        Tensor idsT = Tensor.FromArray(ids, [2, 20]), maskT = Tensor.FromArray(mask, [2, 20]);
        float[] expected = plain.Forward(idsT, maskT).ToFloatArray();
        float[] actual = model.TextEncoder.Model.Forward(idsT, maskT).ToFloatArray();
        Assert.That(actual, Is.EqualTo(expected).Within(1e-6f));
    }

    [Test]
    public void TheSeedDrawsOnlyTheNewWeightsAndBf16HalvesTheFile()
    {
        string a = Assemble("seed-a", seed: 1), b = Assemble("seed-b", seed: 2), half = Assemble("seed-a-bf16", seed: 1, DType.BFloat16);
        using ModelCheckpoint ca = ModelDirectory.Load(a), cb = ModelDirectory.Load(b), ch = ModelDirectory.Load(half);
        Assert.That(ca.Load("img_encoder_q.model.blocks.0.attn.qkv.weight").ToFloatArray(), Is.EqualTo(cb.Load("img_encoder_q.model.blocks.0.attn.qkv.weight").ToFloatArray()));
        Assert.That(ca.Load("img_encoder_q.global_embed.weight").ToFloatArray(), Is.Not.EqualTo(cb.Load("img_encoder_q.global_embed.weight").ToFloatArray()));
        Assert.That(ch.Config.Dtype, Is.EqualTo("bfloat16"));
        Assert.That(new FileInfo(ch.Weights.Path).Length, Is.LessThan(new FileInfo(ca.Weights.Path).Length * 0.6));
        Assert.That(Directory.GetFiles(Path.Combine(a, ModelDirectory.TokenizerFolder)).Select(Path.GetFileName), Is.EquivalentTo(new[] { "vocab.json", "merges.txt" }));
    }

    /// <summary>
    /// A text model already resized for MaMA (263 rows), or a base model whose tokenizer lists the six
    /// tokens as added tokens: the rows the model has come from it, only the missing ones are drawn.
    /// </summary>
    [Test]
    public void AModelAlreadyResizedOrATokenizerWithTheSixTokensAdded()
    {
        string resized = Path.Combine(_root, "gpt2-resized");
        Gpt2Config full = PlainText() with { VocabSize = BaseVocabulary + 6 };
        var fullModel = ModelFactory.Create(ModelConfigFile.ForText(full), seed: 21);
        ModelDirectory.Save(resized, ModelConfigFile.ForText(full), fullModel.StateDict(), ByteLevelTokenizer(Path.Combine(_root, "tok-resized")));
        AssembleResult a = MaMAAssembler.Assemble(new AssembleRequest(_vision, resized, Path.Combine(_root, "from-resized")));
        Assert.That((a.NewTokenRows, a.Config.Mama!.Text.VocabSize), Is.EqualTo((0, BaseVocabulary + 6)));
        using (ModelCheckpoint ck = ModelDirectory.Load(Path.Combine(_root, "from-resized")))
            Assert.That(ck.Load("text_encoder_q.model.base_model.model.transformer.wte.weight").ToFloatArray(),
                Is.EqualTo(fullModel.StateDict()["transformer.wte.weight"].ToFloatArray()), "every row from the file");

        string added = Path.Combine(_root, "gpt2-added");
        string[] files = ByteLevelTokenizer(Path.Combine(_root, "tok-added"));
        string addedJson = Path.Combine(_root, "tok-added", "added_tokens.json");
        string[] six = ["<|startoftext|>", "<|padtext|>", "<|masktext|>", "<|separatetext|>", "<|unknowntext|>", "<|keytext|>"];
        File.WriteAllText(addedJson, JsonSerializer.Serialize(six.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => BaseVocabulary + p.i)));
        ModelDirectory.Save(added, ModelConfigFile.ForText(PlainText()), ModelFactory.Create(ModelConfigFile.ForText(PlainText())).StateDict(), [.. files, addedJson]);
        AssembleResult b = MaMAAssembler.Assemble(new AssembleRequest(_vision, added, Path.Combine(_root, "from-added")));
        Assert.That((b.NewTokenRows, b.Config.Mama!.Text.VocabSize, b.Config.Mama.SepTokenId), Is.EqualTo((6, BaseVocabulary + 6, BaseVocabulary + 3)));
    }

    [Test]
    public void AViTOtherThanThePapersIsNoted()
    {
        var log = new StringWriter();
        MaMAAssembler.Assemble(new AssembleRequest(_vision, _text, Path.Combine(_root, "noted")), log);
        Assert.That(log.ToString(), Does.Contain("note: the ViT is not the paper's ViT-B/14-reg4 at 518 px").And.Contain("42 px"));
    }

    [Test]
    public void WrongFoldersAreRefusedAndNothingIsWritten()
    {
        string output = Path.Combine(_root, "refused");
        var swapped = Assert.Throws<ArgumentException>(() => MaMAAssembler.Assemble(new AssembleRequest(_text, _vision, output)))!;
        Assert.That(swapped.Message, Does.Contain("--vision").And.Contain("holds a gpt2 model"));
        byte[] textWeights = File.ReadAllBytes(Path.Combine(_text, ModelDirectory.WeightsFile));
        Assert.That(() => MaMAAssembler.Assemble(new AssembleRequest(_vision, _text, _text + "/")), Throws.ArgumentException.With.Message.Contains("is the --text folder"));
        Assert.That(File.ReadAllBytes(Path.Combine(_text, ModelDirectory.WeightsFile)), Is.EqualTo(textWeights), "the input is untouched");

        // A GPT-2 that already has adapters.
        string lora = Path.Combine(_root, "gpt2-lora");
        Gpt2Config withLora = PlainText() with { Lora = new LoraConfig() };
        ModelDirectory.Save(lora, ModelConfigFile.ForText(withLora), ModelFactory.Create(ModelConfigFile.ForText(withLora)).StateDict(), ByteLevelTokenizer(Path.Combine(_root, "tok-lora")));
        Assert.That(() => MaMAAssembler.Assemble(new AssembleRequest(_vision, lora, output)), Throws.ArgumentException.With.Message.Contains("LoRA"));

        // No tokenizer, and a tokenizer of another vocabulary.
        string bare = Path.Combine(_root, "gpt2-bare");
        ModelDirectory.Save(bare, ModelConfigFile.ForText(PlainText()), ModelFactory.Create(ModelConfigFile.ForText(PlainText())).StateDict());
        Assert.That(() => MaMAAssembler.Assemble(new AssembleRequest(_vision, bare, output)), Throws.ArgumentException.With.Message.Contains("tokenizer/"));
        string other = Path.Combine(_root, "gpt2-other");
        Gpt2Config bigger = PlainText() with { VocabSize = 300 };
        ModelDirectory.Save(other, ModelConfigFile.ForText(bigger), ModelFactory.Create(ModelConfigFile.ForText(bigger)).StateDict(), ByteLevelTokenizer(Path.Combine(_root, "tok-other")));
        Assert.That(() => MaMAAssembler.Assemble(new AssembleRequest(_vision, other, output)), Throws.ArgumentException.With.Message.Contains("300 rows").And.Message.Contains("263 with MaMA's six"));

        Assert.That(Directory.Exists(output), Is.False);
        Assert.That(Directory.GetDirectories(_root, ".refused*"), Is.Empty, "no partial folder is left");
    }

    [Test]
    public void PretrainingStartsFromTheAssembledFolderOnTheCli()
    {
        string output = Path.Combine(_root, "cli");
        Assert.That(MaMA.Cli.Cli.Run(["assemble", "--vision", _vision, "--text", _text, "--out", output, "--seed", "4"]), Is.EqualTo(0));
        Assert.That(MaMA.Cli.Cli.Run(["assemble", "--vision", _vision, "--out", output]), Is.EqualTo(2), "--text is required");
        Assert.That(MaMA.Cli.Cli.Run(["assemble", "--vision", _vision, "--text", _text, "--out", output, "--dtype", "fp8"]), Is.EqualTo(2));
        Assert.That(MaMA.Cli.Cli.Run(["assemble", "--vision", _text, "--text", _vision, "--out", Path.Combine(_root, "cli-swapped")]), Is.EqualTo(2), "swapped folders");
        Assert.That(MaMA.Cli.Cli.Run(["assemble", "--vision", _vision, "--text", _text, "--out", _root]), Is.EqualTo(2), "--out a folder that is not a model");

        string run = Path.Combine(_root, "run");
        TrainingConfigFixture.Write(Path.Combine(_root, "pretrain.json"), output);
        Assert.That(MaMA.Cli.Cli.Run(["pretrain", "--config", Path.Combine(_root, "pretrain.json"), "--out", run, "--device", "cpu"]), Is.EqualTo(0));
        Assert.That(File.Exists(Path.Combine(run, "final", ModelDirectory.WeightsFile)), Is.True);
    }

    /// <summary>A two-step CPU pre-training config over the tests' synthetic data, starting from <c>model</c>.</summary>
    private static class TrainingConfigFixture
    {
        public static void Write(string path, string model)
        {
            string text = File.ReadAllText(Path.Combine(TestPaths.Configs, "pretrain-tiny.json"))
                .Replace("\"model\": \"tiny\"", $"\"model\": {JsonSerializer.Serialize(model)}")
                .Replace("\"data\": null", $"\"data\": {JsonSerializer.Serialize(TinyRuns.DataDir)}")
                .Replace("\"max_steps\": 400", "\"max_steps\": 2")
                .Replace("\"warmup_steps\": 10", "\"warmup_steps\": 1")
                .Replace("\"micro_batch\": 8", "\"micro_batch\": 4");
            Assert.That(text, Does.Contain(JsonSerializer.Serialize(model)).And.Contain("\"max_steps\": 2"), "the tiny config's keys were replaced");
            File.WriteAllText(path, text);
        }
    }
}
