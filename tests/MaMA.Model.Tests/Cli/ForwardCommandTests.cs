using MaMA.Engine.Nn;
using MaMA.Engine.Serialization;
using MaMA.Interop.Torch.Reference;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Model.Tests.Heads;
using MaMA.Model.Tests.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests.Cli;

/// <summary>
/// <c>mama forward</c> run in process: a tiny MaMA model folder against the TorchSharp reference in
/// evaluation mode (every loss term and embedding), image-only / text-only inputs, dinov2 and gpt2
/// folders, and input errors that name the tensor (exit 2).
/// </summary>
[TestFixture]
public sealed class ForwardCommandTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("mama-forward-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Stderr) Run(params string[] args)
    {
        var error = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(error);
        try
        {
            return (global::MaMA.Cli.Cli.Run(args), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    private (MaMAModel Model, string Folder) SaveMaMA(MaMAConfig config)
    {
        MaMAModel model = MaMATestData.Model(config);
        // One training step moves the running statistics away from (0, 1), so evaluation mode is tested for real.
        model.Forward(MaMATestData.Batch(config, seed: 77), step: long.MaxValue / 2);
        string folder = Path.Combine(_dir, "model");
        ModelDirectory.Save(folder, ModelConfigFile.ForMaMA(config), model.StateDict());
        return (model, folder);
    }

    private string WriteInputs(string name, Dictionary<string, EngineTensor> tensors)
    {
        string path = Path.Combine(_dir, name);
        Safetensors.Write(path, tensors);
        return path;
    }

    private static Dictionary<string, EngineTensor> Read(string path)
    {
        using SafetensorsFile file = Safetensors.Open(path);
        return file.Names.ToDictionary(n => n, n => file.Load(n));
    }

    [Test]
    public void MaMAFolderMatchesTheReferenceInEvaluationMode()
    {
        using var scope = NewDisposeScope();
        MaMAConfig config = MaMATestData.Config();
        (MaMAModel model, string folder) = SaveMaMA(config);
        MaMABatch batch = MaMATestData.Batch(config);
        string input = WriteInputs("in.safetensors", new Dictionary<string, EngineTensor>
        {
            ["pixel_values"] = batch.PixelValues, ["pixel_values_2"] = batch.PixelValues2!, ["input_ids"] = batch.InputIds, ["attention_mask"] = batch.AttentionMask,
        });
        string output = Path.Combine(_dir, "out.safetensors");
        (int code, string stderr) = Run("forward", "--model", folder, "--in", input, "--out", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        Dictionary<string, EngineTensor> o = Read(output);
        Assert.That(o.Keys.Order(), Is.EqualTo(new[]
        {
            "attention_mask", "i2t_acc1", "i2t_acc5", "image_embedding", "loss", "loss_clip_v1", "loss_clip_v2", "loss_ntxent", "loss_sla_i2t", "loss_sla_t2i",
            "patch_embedding", "sentence_embedding", "sentence_offsets", "t2i_acc1", "t2i_acc5", "text_embedding", "text_hidden", "x_norm", "x_prenorm",
        }.Where(k => k != "attention_mask").Order()));

        var reference = new TorchMaMA(config);
        reference.LoadEngineState(model.StateDict());
        reference.eval();
        TorchMaMAOutput want;
        using (no_grad())
            want = reference.Forward(Compare.Torch(batch.PixelValues), Compare.Torch(batch.InputIds), Compare.Torch(batch.AttentionMask), Compare.Torch(batch.PixelValues2!), step: 0);
        var errors = new List<string>();
        void Check(string name, TorchSharp.torch.Tensor expected) => errors.Add($"{name} {Compare.Close(o[name], expected, 1e-5, name):E2}");
        Check("loss", want.Loss);
        Check("loss_clip_v1", want.ClipV1);
        Check("loss_clip_v2", want.ClipV2!);
        Check("loss_ntxent", want.NtXent!);
        Check("loss_sla_t2i", want.SlaT2I!);
        Check("loss_sla_i2t", want.SlaI2T!);
        Check("image_embedding", want.ImageEmbedding);
        Check("text_embedding", want.TextEmbedding);
        Check("patch_embedding", want.PatchEmbedding!);
        Check("sentence_embedding", cat(want.SentenceEmbeddings!.ToArray(), 0));
        TestContext.Out.WriteLine(string.Join("; ", errors));
        Assert.That(o["sentence_offsets"].ToArray<long>()[^1], Is.EqualTo(o["sentence_embedding"].Shape[0]));
        Assert.That(o["x_prenorm"].ShapeArray, Is.EqualTo(new[] { 4, config.Vision.NumTokens, config.Vision.EmbedDim }));
        Assert.That(o["text_hidden"].ShapeArray, Is.EqualTo(new[] { 4, 20, config.Text.NEmbd }));
        Assert.That(o["i2t_acc5"].Item(), Is.EqualTo(100f), "k is capped at N = 4");
    }

    [Test]
    public void StepBeforeTheLateLossGivesOnlyTheGlobalTerm()
    {
        MaMAConfig config = MaMATestData.Config(lateLossStep: 10);
        (_, string folder) = SaveMaMA(config);
        MaMABatch batch = MaMATestData.Batch(config);
        string input = WriteInputs("in.safetensors", new Dictionary<string, EngineTensor>
        {
            ["pixel_values"] = batch.PixelValues, ["pixel_values_2"] = batch.PixelValues2!, ["input_ids"] = batch.InputIds, ["attention_mask"] = batch.AttentionMask,
        });
        string output = Path.Combine(_dir, "out.safetensors");
        Assert.That(Run("forward", "--model", folder, "--in", input, "--out", output, "--device", "cpu", "--step", "3").Code, Is.EqualTo(0));
        Dictionary<string, EngineTensor> o = Read(output);
        Assert.That(o.Keys, Does.Contain("loss").And.Contain("loss_clip_v1").And.Not.Contain("loss_ntxent"));
        Assert.That(o["loss"].Item(), Is.EqualTo(o["loss_clip_v1"].Item()));
        Assert.That(Run("forward", "--model", folder, "--in", input, "--out", output, "--device", "cpu").Code, Is.EqualTo(0));
        Assert.That(Read(output).Keys, Does.Contain("loss_ntxent"), "the default step is the late-loss step");
    }

    [Test]
    public void ImageOnlyAndTextOnlyInputsGiveTheirOwnOutputs()
    {
        MaMAConfig config = MaMATestData.Config();
        (MaMAModel model, string folder) = SaveMaMA(config);
        MaMABatch batch = MaMATestData.Batch(config);
        string output = Path.Combine(_dir, "out.safetensors");

        string images = WriteInputs("images.safetensors", new Dictionary<string, EngineTensor> { ["pixel_values"] = batch.PixelValues });
        Assert.That(Run("forward", "--model", folder, "--in", images, "--out", output, "--device", "cpu").Code, Is.EqualTo(0));
        Dictionary<string, EngineTensor> o = Read(output);
        Assert.That(o.Keys.Order(), Is.EqualTo(new[] { "image_embedding", "patch_embedding", "x_norm", "x_prenorm" }));
        model.Eval();
        Assert.That(Compare.RelErr(o["image_embedding"].ToFloatArray(), model.EncodeImage(batch.PixelValues).Embedding.ToFloatArray()), Is.LessThan(1e-6));

        string texts = WriteInputs("texts.safetensors", new Dictionary<string, EngineTensor> { ["input_ids"] = batch.InputIds, ["attention_mask"] = batch.AttentionMask });
        Assert.That(Run("forward", "--model", folder, "--in", texts, "--out", output, "--device", "cpu").Code, Is.EqualTo(0));
        Assert.That(Read(output).Keys.Order(), Is.EqualTo(new[] { "sentence_embedding", "sentence_offsets", "text_embedding", "text_hidden" }));

        string pairs = WriteInputs("pairs.safetensors", new Dictionary<string, EngineTensor>
        {
            ["pixel_values"] = batch.PixelValues, ["input_ids"] = batch.InputIds, ["attention_mask"] = batch.AttentionMask,
        });
        Assert.That(Run("forward", "--model", folder, "--in", pairs, "--out", output, "--device", "cpu").Code, Is.EqualTo(0));
        Assert.That(Read(output).Keys, Does.Contain("loss_clip_v1").And.Contain("t2i_acc1").And.Not.Contain("loss"));
    }

    [Test]
    public void Dinov2AndGpt2Folders()
    {
        string output = Path.Combine(_dir, "out.safetensors");
        var vit = new DinoVisionTransformer(VisionConfig.Tiny, new Random(2));
        string vitFolder = Path.Combine(_dir, "vit");
        ModelDirectory.Save(vitFolder, ModelConfigFile.ForVision(VisionConfig.Tiny), vit.StateDict());
        EngineTensor pixels = Compare.Uniform([2, 3, 28, 42], 3);   // another size: positions interpolate
        string images = WriteInputs("images.safetensors", new Dictionary<string, EngineTensor> { ["pixel_values"] = pixels });
        Assert.That(Run("forward", "--model", vitFolder, "--in", images, "--out", output, "--device", "cpu").Code, Is.EqualTo(0));
        Dictionary<string, EngineTensor> o = Read(output);
        Assert.That(o.Keys.Order(), Is.EqualTo(new[] { "x_norm", "x_prenorm" }));
        vit.Eval();
        Assert.That(Compare.RelErr(o["x_prenorm"].ToFloatArray(), vit.Forward(pixels).XPrenorm.ToFloatArray()), Is.LessThan(1e-6));

        var gpt = new PeftGpt2Model(Gpt2Config.Tiny, new Random(4));
        string gptFolder = Path.Combine(_dir, "gpt");
        ModelDirectory.Save(gptFolder, ModelConfigFile.ForText(Gpt2Config.Tiny), gpt.StateDict());
        EngineTensor ids = EngineTensor.FromArray(new long[] { 10, 20, 30, 40, 50, 60 }, [2, 3]);
        string texts = WriteInputs("texts.safetensors", new Dictionary<string, EngineTensor> { ["input_ids"] = ids });
        (int code, string stderr) = Run("forward", "--model", gptFolder, "--in", texts, "--out", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(Read(output)["text_hidden"].ShapeArray, Is.EqualTo(new[] { 2, 3, 32 }));
    }

    [Test]
    public void BadInputsNameTheTensor()
    {
        MaMAConfig config = MaMATestData.Config();
        (_, string folder) = SaveMaMA(config);
        MaMABatch batch = MaMATestData.Batch(config);
        string output = Path.Combine(_dir, "out.safetensors");
        void Expect(string what, Dictionary<string, EngineTensor> tensors, string message)
        {
            string input = WriteInputs(what + ".safetensors", tensors);
            (int code, string stderr) = Run("forward", "--model", folder, "--in", input, "--out", output, "--device", "cpu");
            Assert.That(code, Is.EqualTo(2), what);
            Assert.That(stderr, Does.Contain(message), what);
            Assert.That(File.Exists(output), Is.False, $"{what}: no output on error");
        }
        Expect("nothing", new() { ["unrelated"] = EngineTensor.Zeros([2]) }, "'pixel_values'");
        Expect("rank", new() { ["pixel_values"] = EngineTensor.Zeros([3, 42, 42]) }, "'pixel_values' must be [B, 3, H, W]");
        Expect("patch", new() { ["pixel_values"] = EngineTensor.Zeros([1, 3, 40, 42]) }, "'pixel_values' must be [B, 3, H, W]");
        Expect("ids-dtype", new() { ["input_ids"] = EngineTensor.Zeros([2, 4]) }, "'input_ids' must be an integer tensor");
        Expect("ids-range", new() { ["input_ids"] = EngineTensor.FromArray(new long[] { 1, 999999 }, [1, 2]) }, "'input_ids' holds token id 999999");
        Expect("mask-shape", new() { ["input_ids"] = batch.InputIds, ["attention_mask"] = EngineTensor.Ones([4, 3]) }, "'attention_mask' has shape");
        Expect("no-sep", new() { ["input_ids"] = EngineTensor.FromArray(new long[] { 1, 2, 3 }, [1, 3]) }, "'input_ids' row 0 has no SEP token");
        Expect("pairs", new() { ["pixel_values"] = EngineTensor.Zeros([3, 3, 42, 42]), ["input_ids"] = batch.InputIds }, "pairs need the same B");
        Expect("view2", new() { ["pixel_values"] = batch.PixelValues, ["input_ids"] = batch.InputIds, ["pixel_values_2"] = EngineTensor.Zeros([4, 3, 28, 42]) }, "'pixel_values_2' has shape");
        Expect("view2-alone", new() { ["pixel_values_2"] = batch.PixelValues }, "'pixel_values_2'");

        Assert.That(Run("forward", "--model", folder, "--out", output).Code, Is.EqualTo(2), "--in missing");
        Assert.That(Run("forward", "--model", folder, "--in", "x", "--out", output, "--step", "-1").Code, Is.EqualTo(2), "bad --step");
        string ok = WriteInputs("ok.safetensors", new() { ["pixel_values"] = batch.PixelValues });
        (int missingModel, string msg) = Run("forward", "--model", Path.Combine(_dir, "nope"), "--in", ok, "--out", output);
        Assert.That(missingModel, Is.EqualTo(2), "a folder an option names that does not exist is a usage mistake");
        Assert.That(msg, Does.Contain("--model").And.Contain("no such folder"));
        Assert.That(Run("forward", "--model", folder, "--in", Path.Combine(_dir, "nope.safetensors"), "--out", output).Code, Is.EqualTo(2));
    }
}
