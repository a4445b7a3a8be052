using System.Text.Json;
using MaMA.Data.Text;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.Golden;
using MaMA.Evaluation.Tests.ZeroShot;
using MaMA.Model.MaMA;

namespace MaMA.Evaluation.Tests.Golden;

/// <summary>
/// <c>mama golden</c>: record on cpu and verify on ilgpu-cpu passes; a perturbed weight fails with
/// exit 1; the manifest records what made the outputs; bad usage and bad inputs exit 2; and
/// <c>mama forward</c> writes the same named outputs as the goldens.
/// </summary>
[TestFixture]
public sealed class GoldenCommandTests
{
    private static string _inputs = "";
    private static string _golden = "";

    /// <summary>Two image-report pairs with a second view: the whole forward, every loss term.</summary>
    private static string WriteInputs()
    {
        var rng = new Random(11);
        float[] Pixels() => Enumerable.Range(0, 2 * 3 * 42 * 42).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        EncodedCaptionBatch captions = MaMATokenizer.Load("gpt2").EncodeCaptions(
            ["The breast is extremely dense. A mass is present; biopsy.", "Negative. No findings."], 32);
        string path = Path.Combine(EvalTestData.NewDir("golden-in"), "inputs.safetensors");
        Safetensors.Write(path, new Dictionary<string, Tensor>
        {
            ["pixel_values"] = Tensor.FromArray(Pixels(), [2, 3, 42, 42]),
            ["pixel_values_2"] = Tensor.FromArray(Pixels(), [2, 3, 42, 42]),
            ["input_ids"] = Tensor.FromArray(Array.ConvertAll(captions.Ids, i => (long)i), [2, 32]),
            ["attention_mask"] = Tensor.FromArray(Array.ConvertAll(captions.AttentionMask, m => (long)m), [2, 32]),
        });
        return path;
    }

    [OneTimeSetUp]
    public void Record()
    {
        _inputs = WriteInputs();
        _golden = Path.Combine(EvalTestData.NewDir("golden"), "g");
        (int code, string stdout, string stderr) = EvalTestData.Run("golden", "record", "--model", EvalTestData.Model, "--in", _inputs, "--out", _golden, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr + stdout);
    }

    [Test]
    public void ManifestRecordsWhatMadeTheOutputs()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_golden, "manifest.json")));
        JsonElement m = doc.RootElement;
        Assert.That(m.GetProperty("device").GetString(), Is.EqualTo("cpu"));
        Assert.That(m.GetProperty("engine_version").GetString(), Does.StartWith("0."));
        Assert.That(m.GetProperty("model_sha256").GetString(), Has.Length.EqualTo(64));
        Assert.That(m.GetProperty("inputs_sha256").GetString(), Has.Length.EqualTo(64));
        Assert.That(m.GetProperty("weights_dtype").GetString(), Is.EqualTo("float32"));
        string[] names = m.GetProperty("tensors").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToArray();
        Assert.That(names, Is.SupersetOf(new[] { "loss", "loss_sla_t2i", "image_embedding", "patch_embedding", "sentence_embedding", "sentence_offsets", "text_hidden", "x_norm" }));
        JsonElement offsets = m.GetProperty("tensors").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "sentence_offsets");
        Assert.That(offsets.GetProperty("tolerance").GetDouble(), Is.EqualTo(0), "integer outputs compare exactly");
        Assert.That(File.Exists(Path.Combine(_golden, "inputs.safetensors")) && File.Exists(Path.Combine(_golden, "outputs.safetensors")));
        Assert.That(Directory.GetDirectories(Path.GetDirectoryName(_golden)!), Has.Length.EqualTo(1), "no temporary folder left");
    }

    [Test]
    public void VerifyOnTheIlgpuCpuSimulatorPasses()
    {
        (int code, string stdout, string stderr) = EvalTestData.Run("golden", "verify", "--model", EvalTestData.Model, "--golden", _golden, "--device", "ilgpu-cpu");
        Assert.That(code, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("all").And.Contain("outputs match"));
        Assert.That(stdout, Does.Contain("image_embedding").And.Contain("pass"));
        Assert.That(stdout, Does.Not.Contain("FAIL"));
    }

    [Test]
    public void APerturbedWeightFailsWithExitOne()
    {
        string perturbed = EvalTestData.SaveModel("perturbed", seed: 3, change: model =>
        {
            // One weight of the image global head moves by 0.05.
            Tensor w = model.ImageEncoder.GlobalEmbed.Weight;
            float[] values = w.ToFloatArray();
            values[0] += 0.05f;
            model.LoadStateDict(new Dictionary<string, Tensor> { ["img_encoder_q.global_embed.weight"] = Tensor.FromArray(values, w.ShapeArray) }, strict: false);
        });
        (int code, string stdout, string stderr) = EvalTestData.Run("golden", "verify", "--model", perturbed, "--golden", _golden, "--device", "cpu");
        Assert.That(code, Is.EqualTo(1), stdout + stderr);
        Assert.That(stdout, Does.Contain("FAIL").And.Contain("not the recorded ones"));
        string imageRow = stdout.Split('\n').Single(l => l.StartsWith("image_embedding ", StringComparison.Ordinal));
        Assert.That(imageRow, Does.Contain("FAIL"));
        string textRow = stdout.Split('\n').Single(l => l.StartsWith("text_embedding ", StringComparison.Ordinal));
        Assert.That(textRow, Does.Contain("pass"), "the text path does not use the changed weight");
    }

    [Test]
    public void ForwardWritesTheSameNamedOutputs()
    {
        string output = Path.Combine(EvalTestData.NewDir("forward"), "out.safetensors");
        (int code, _, string stderr) = EvalTestData.Run("forward", "--model", EvalTestData.Model, "--in", _inputs, "--out", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(0), stderr);
        using SafetensorsFile forward = Safetensors.Open(output), golden = Safetensors.Open(Path.Combine(_golden, "outputs.safetensors"));
        Assert.That(forward.Names.Order(), Is.EqualTo(golden.Names.Order()));
        foreach (string name in golden.Names)
            Assert.That(forward.Load(name).ToBytes(), Is.EqualTo(golden.Load(name).ToBytes()), name);
    }

    [Test]
    public void UsageAndInputErrorsExitWithTwo()
    {
        Assert.That(EvalTestData.Run("golden").Code, Is.EqualTo(2));
        Assert.That(EvalTestData.Run("golden", "replay", "--model", EvalTestData.Model).Code, Is.EqualTo(2));
        Assert.That(EvalTestData.Run("golden", "verify", "--model", EvalTestData.Model).Code, Is.EqualTo(2), "no --golden");
        Assert.That(EvalTestData.Run("golden", "verify", "--model", EvalTestData.Model, "--golden", EvalTestData.NewDir("empty")).Code, Is.EqualTo(2), "no manifest");
        string onlyMask = Path.Combine(EvalTestData.NewDir("bad-in"), "in.safetensors");
        Safetensors.Write(onlyMask, new Dictionary<string, Tensor> { ["attention_mask"] = Tensor.Ones([1, 4]) });
        (int code, _, string stderr) = EvalTestData.Run("golden", "record", "--model", EvalTestData.Model, "--in", onlyMask, "--out", Path.Combine(EvalTestData.NewDir("bad-out"), "g"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("'attention_mask'"));
    }
}
