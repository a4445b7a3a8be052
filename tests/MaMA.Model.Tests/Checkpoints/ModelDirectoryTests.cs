using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Model.Vision;
using static MaMA.Model.Tests.Checkpoints.CheckpointTestKit;

namespace MaMA.Model.Tests.Checkpoints;

/// <summary>The model folder: round trips, checksum, atomic replacement, clear errors.</summary>
[TestFixture]
public sealed class ModelDirectoryTests
{
    private static (ModelConfigFile Config, DinoVisionTransformer Model) Vit(int seed)
    {
        var model = new DinoVisionTransformer(TinyVision, new Random(seed));
        Randomize(model, seed);
        return (ModelConfigFile.ForVision(TinyVision), model);
    }

    [Test]
    public void SaveLoadRoundTripWithChecksumAndTokenizer()
    {
        (ModelConfigFile config, DinoVisionTransformer model) = Vit(1);
        string root = TempDir("m");
        string vocab = Path.Combine(root, "vocab.json"), merges = Path.Combine(root, "merges.txt");
        File.WriteAllText(vocab, "{}");
        File.WriteAllText(merges, "#version: 0.2\n");
        string dir = Path.Combine(root, "vit");
        ModelConfigFile written = ModelDirectory.Save(dir, config, model.StateDict(), [vocab, merges]);
        Assert.That(WeightsChecksum.IsWellFormed(written.WeightsSha256), Is.True);
        Assert.That(written.WeightsSha256, Is.EqualTo(WeightsChecksum.OfFile(Path.Combine(dir, ModelDirectory.WeightsFile))));
        using ModelCheckpoint ck = ModelDirectory.Load(dir);
        Assert.That(ck.Config.Vision, Is.EqualTo(TinyVision));
        Assert.That(ck.TokenizerDirectory, Is.Not.Null);
        Assert.That(File.Exists(Path.Combine(ck.TokenizerDirectory!, "merges.txt")), Is.True);
        var loaded = ModelFactory.Load<DinoVisionTransformer>(dir);
        foreach ((string key, Tensor t) in model.StateDict())
            Assert.That(loaded.StateDict()[key].ToFloatArray(), Is.EqualTo(t.ToFloatArray()), key);
        Assert.That(Directory.GetDirectories(root, ".vit.*"), Is.Empty);
    }

    [Test]
    public void ChecksumMismatchIsReported()
    {
        (ModelConfigFile config, DinoVisionTransformer model) = Vit(2);
        string dir = Path.Combine(TempDir("m"), "vit");
        ModelDirectory.Save(dir, config, model.StateDict());
        string weights = Path.Combine(dir, ModelDirectory.WeightsFile);
        byte[] bytes = File.ReadAllBytes(weights);
        bytes[^3] ^= 0x40;
        File.WriteAllBytes(weights, bytes);
        Assert.That(() => ModelDirectory.Load(dir), Throws.TypeOf<InvalidDataException>().With.Message.Contains(weights).And.Message.Contains("SHA-256"));
        Assert.That(() => ModelFactory.Load(dir), Throws.TypeOf<InvalidDataException>().With.Message.Contains("does not match"));
    }

    [Test]
    public void FailedVerificationLeavesNothingAndKeepsTheOldFolder()
    {
        (ModelConfigFile config, DinoVisionTransformer model) = Vit(3);
        string root = TempDir("m");
        string dir = Path.Combine(root, "vit");
        ModelDirectory.Save(dir, config, model.StateDict());
        string before = File.ReadAllText(Path.Combine(dir, ModelConfigFile.FileName));
        var sources = model.StateDict().ToDictionary(kv => kv.Key, kv => TensorSource.Of(kv.Value));
        Assert.That(() => ModelDirectory.Save(dir, config with { Source = "second" }, sources, new ModelDirectory.SaveOptions { Verify = _ => throw new InvalidDataException("check failed") }),
            Throws.TypeOf<InvalidDataException>());
        Assert.That(File.ReadAllText(Path.Combine(dir, ModelConfigFile.FileName)), Is.EqualTo(before));
        Assert.That(Directory.GetDirectories(root, ".vit.*"), Is.Empty);
        ModelDirectory.Save(dir, config with { Source = "third" }, sources, new ModelDirectory.SaveOptions { FloatDType = DType.Float16 });
        using ModelCheckpoint ck = ModelDirectory.Load(dir);
        Assert.That((ck.Config.Source, ck.Config.Dtype), Is.EqualTo(("third", "float16")));
        Assert.That(Directory.GetDirectories(root, ".vit.*"), Is.Empty);
    }

    [Test]
    public void APretrainingRunFolderStandsForItsFinalModel()
    {
        // A run folder's own config.json is the training config, not a model's: it used to be read as one.
        (ModelConfigFile config, DinoVisionTransformer model) = Vit(4);
        string run = TempDir("run");
        File.WriteAllText(Path.Combine(run, ModelConfigFile.FileName), "{\"model\": \"tiny\"}");
        Directory.CreateDirectory(Path.Combine(run, "checkpoints"));
        var e = Assert.Throws<FileNotFoundException>(() => ModelDirectory.Load(run))!;
        Assert.That(e.Message, Does.Contain("has not finished").And.Contain("--resume"));

        ModelDirectory.Save(Path.Combine(run, "final"), config, model.StateDict());
        Assert.That(ModelDirectory.Resolve(run), Is.EqualTo(Path.Combine(run, "final")));
        using ModelCheckpoint ck = ModelDirectory.Load(run);
        Assert.That(ck.Directory, Is.EqualTo(Path.GetFullPath(Path.Combine(run, "final"))));
        Assert.That(ck.Config.Vision, Is.EqualTo(TinyVision));
        // A model folder, and anything that is not a folder, are themselves.
        Assert.That(ModelDirectory.Resolve(Path.Combine(run, "final")), Is.EqualTo(Path.Combine(run, "final")));
        Assert.That(ModelDirectory.Resolve("tiny"), Is.EqualTo("tiny"));
    }

    [Test]
    public void ClearErrors()
    {
        string root = TempDir("m");
        string notModel = Directory.CreateDirectory(Path.Combine(root, "photos")).FullName;
        File.WriteAllText(Path.Combine(notModel, "a.png"), "x");
        (ModelConfigFile config, DinoVisionTransformer model) = Vit(4);
        Assert.That(() => ModelDirectory.Save(notModel, config, model.StateDict()), Throws.InstanceOf<IOException>().With.Message.Contains("not a model folder"));
        Assert.That(() => ModelDirectory.Load(Path.Combine(root, "nothing")), Throws.InstanceOf<DirectoryNotFoundException>().With.Message.Contains("nothing"));
        Assert.That(() => ModelDirectory.Load(notModel), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("config.json"));
        string dir = Path.Combine(root, "vit");
        ModelDirectory.Save(dir, config, model.StateDict());
        File.Delete(Path.Combine(dir, ModelDirectory.WeightsFile));
        Assert.That(() => ModelDirectory.Load(dir), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("model.safetensors"));
    }
}
