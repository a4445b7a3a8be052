using MaMA.Interop.Torch.Reference;
using MaMA.Model.Vision;
using TorchSharp;
using static MaMA.Model.Tests.Checkpoints.CheckpointTestKit;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Model.Tests.Checkpoints;

/// <summary>Bad checkpoints end in one clear message naming the key or file, and leave no output folder.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ImportErrorTests
{
    private static Dictionary<string, TorchTensor> VitState(int seed)
    {
        var engine = new DinoVisionTransformer(TinyVision, new Random(seed));
        var twin = new TorchDinoV2(TinyVision);
        twin.LoadEngineState(engine.StateDict());
        return TorchState(twin);
    }

    private static string Write(Dictionary<string, TorchTensor> state, string name = "vit.pth")
    {
        string path = Path.Combine(TempDir("src"), name);
        if (name.EndsWith(".safetensors", StringComparison.Ordinal)) SaveSafetensors(path, state);
        else SavePth(path, state);
        return path;
    }

    private static string Out() => Path.Combine(TempDir("out"), "model");

    [Test]
    public void MissingKeyIsNamed()
    {
        var state = VitState(1);
        state.Remove("norm.bias");
        string err = ImportFails(Out(), "--from", Write(state), "--arch", "dinov2");
        Assert.That(err, Does.Contain("missing").IgnoreCase.And.Contain("norm.bias"));
    }

    [Test]
    public void UnexpectedKeyIsNamed()
    {
        var state = VitState(2);
        state["blocks.0.attn.extra_scale"] = torch.ones(3);
        string err = ImportFails(Out(), "--from", Write(state), "--arch", "dinov2");
        Assert.That(err, Does.Contain("unexpected").IgnoreCase.And.Contain("blocks.0.attn.extra_scale"));
    }

    [Test]
    public void WrongShapeIsNamed()
    {
        var state = VitState(3);
        state["blocks.1.attn.proj.bias"] = torch.zeros(63);
        string err = ImportFails(Out(), "--from", Write(state, "vit.safetensors"), "--arch", "dinov2");
        Assert.That(err, Does.Contain("blocks.1.attn.proj.bias").And.Contain("[63]").And.Contain("[64]"));
    }

    [Test]
    public void TruncatedPthNamesTheFile()
    {
        string path = Write(VitState(4));
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length * 2 / 3)]);
        string err = ImportFails(Out(), "--from", path, "--arch", "dinov2");
        Assert.That(err, Does.Contain(path).And.Contain("truncated").Or.Contain("damaged"));
    }

    [Test]
    public void TruncatedPthDataNamesTheTensor()
    {
        // Keep the zip directory intact but lose a storage's tail: rewrite one stored entry shorter.
        string path = Write(VitState(5));
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update))
        {
            var entry = zip.Entries.First(e => e.FullName.Contains("/data/", StringComparison.Ordinal) && e.Length > 1000);
            string name = entry.FullName;
            byte[] data;
            using (var s = entry.Open())
            using (var ms = new MemoryStream())
            {
                s.CopyTo(ms);
                data = ms.ToArray();
            }
            entry.Delete();
            using var w = zip.CreateEntry(name, System.IO.Compression.CompressionLevel.NoCompression).Open();
            w.Write(data, 0, data.Length / 2);
        }
        string err = ImportFails(Out(), "--from", path, "--arch", "dinov2");
        Assert.That(err, Does.Contain(path).And.Contain("truncated"));
    }

    [Test]
    public void CorruptedSafetensorsHeaderNamesTheFile()
    {
        string path = Write(VitState(6), "vit.safetensors");
        byte[] bytes = File.ReadAllBytes(path);
        for (int i = 8; i < 40; i++) bytes[i] = (byte)'#';
        File.WriteAllBytes(path, bytes);
        string err = ImportFails(Out(), "--from", path, "--arch", "dinov2");
        Assert.That(err, Does.Contain(path).And.Contain("not a valid safetensors file"));
    }

    [Test]
    public void WrongArchSaysWhatIsMissing()
    {
        string err = ImportFails(Out(), "--from", Write(VitState(7)), "--arch", "gpt2");
        Assert.That(err, Does.Contain("not a GPT-2 checkpoint").And.Contain("wte.weight"));
    }

    [Test]
    public void UsageErrors()
    {
        Assert.That(Mama("import", "--from", "x").Code, Is.EqualTo(2));
        (int code, _, string err) = Mama("import", "--from", Write(VitState(8)), "--arch", "vit", "--out", Out());
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("dinov2, gpt2 or mama"));
        Assert.That(Mama("import", "--from", "/no/such/file.pth", "--arch", "dinov2", "--out", Out()).Err, Does.Contain("/no/such/file.pth"));
    }

    [Test]
    public void FailedImportKeepsAnExistingModelFolder()
    {
        string outDir = Out();
        Import("--from", Write(VitState(9)), "--arch", "dinov2", "--out", outDir);
        string sha = File.ReadAllText(Path.Combine(outDir, "config.json"));
        var state = VitState(10);
        state.Remove("cls_token");
        (int code, _, _) = Mama("import", "--from", Write(state), "--arch", "dinov2", "--out", outDir);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "config.json")), Is.EqualTo(sha), "the old model folder must survive a failed import");
    }
}
