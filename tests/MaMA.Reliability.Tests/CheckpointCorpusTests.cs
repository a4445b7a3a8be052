using System.Text.Json.Nodes;
using MaMA.Engine.Nn;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Model.Vision;
using MaMA.Reliability.Tests.Support;
using MaMA.Training.Checkpoints;

namespace MaMA.Reliability.Tests;

/// <summary>
/// Damaged model folders (ModelFactory.Load: config, checksum, safetensors, strict keys and shapes,
/// NaN weights) and damaged training checkpoints (CheckpointStore: each damage makes the store fall
/// back to the previous checkpoint with a warning, never crash or resume from bad state).
/// </summary>
public sealed class CheckpointCorpusTests
{
    public sealed record FolderCase(string Name, Action<string> Damage, Type Error, string Reason)
    {
        public override string ToString() => Name;
    }

    private static readonly ModelConfigFile TinyVit = ModelConfigFile.ForVision(VisionConfig.Tiny);

    private static Dictionary<string, Tensor> Weights() =>
        ModelFactory.Create(TinyVit, seed: 1).StateDict().ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    /// <summary>Rewrites model.safetensors from <paramref name="edit"/>(weights) and drops the recorded checksum, so the deeper checks are reached.</summary>
    private static Action<string> Rewrite(Action<Dictionary<string, Tensor>> edit) => dir =>
    {
        Dictionary<string, Tensor> w = Weights();
        edit(w);
        Safetensors.Write(Path.Combine(dir, ModelDirectory.WeightsFile), w);
        DropChecksum(dir);
    };

    private static void DropChecksum(string dir)
    {
        string cfg = Path.Combine(dir, ModelConfigFile.FileName);
        JsonObject o = JsonNode.Parse(File.ReadAllText(cfg))!.AsObject();
        o.Remove("weights_sha256");
        File.WriteAllText(cfg, o.ToJsonString());
    }

    private static void Truncate(string file, int keep)
    {
        byte[] b = File.ReadAllBytes(file);
        File.WriteAllBytes(file, b[..keep]);
    }

    public static IEnumerable<FolderCase> FolderCases()
    {
        string W(string d) => Path.Combine(d, ModelDirectory.WeightsFile);
        string C(string d) => Path.Combine(d, ModelConfigFile.FileName);
        yield return new("model-config-missing", d => File.Delete(C(d)), typeof(FileNotFoundException), "No model config");
        yield return new("model-config-not-json", d => File.WriteAllText(C(d), "{ \"arch\": "), typeof(InvalidDataException), "not a valid model config");
        yield return new("model-config-unknown-key", d => File.WriteAllText(C(d), File.ReadAllText(C(d)).Replace("\"arch\"", "\"colour\": 1, \"arch\"")), typeof(InvalidDataException), "colour");
        yield return new("model-config-future-version", d => File.WriteAllText(C(d), File.ReadAllText(C(d)).Replace("\"format_version\": 1", "\"format_version\": 9")), typeof(InvalidDataException), "format_version 9 is not supported");
        yield return new("model-weights-missing", d => File.Delete(W(d)), typeof(FileNotFoundException), "has no model.safetensors");
        yield return new("model-weights-truncated-checksum", d => Truncate(W(d), 1000), typeof(InvalidDataException), "does not match");
        yield return new("model-weights-truncated-no-checksum", d => { Truncate(W(d), 1000); DropChecksum(d); }, typeof(InvalidDataException), "not a valid safetensors file");
        yield return new("model-weights-header-lies", d => { byte[] b = File.ReadAllBytes(W(d)); b[0] ^= 0x40; File.WriteAllBytes(W(d), b); DropChecksum(d); }, typeof(InvalidDataException), "not a valid safetensors file");
        yield return new("model-missing-key", Rewrite(w => w.Remove(w.Keys.First())), typeof(StateDictException), "missing");
        yield return new("model-extra-key", Rewrite(w => w["surprise.weight"] = Tensor.Zeros([2])), typeof(StateDictException), "surprise.weight");
        yield return new("model-wrong-shape", Rewrite(w => { string k = w.Keys.First(k => w[k].ShapeArray.Length == 2); w[k] = Tensor.Zeros([w[k].ShapeArray[0] + 1, w[k].ShapeArray[1]]); }), typeof(StateDictException), "vs model");
        yield return new("model-nan-weights", Rewrite(w => { string k = w.Keys.First(k => w[k].DType == DType.Float32 && w[k].Numel > 4); float[] v = w[k].ToFloatArray(); v[3] = float.NaN; v[4] = float.PositiveInfinity; w[k] = Tensor.FromArray(v, w[k].ShapeArray); }), typeof(InvalidDataException), "2 non-finite values");
    }

    [TestCaseSource(nameof(FolderCases))]
    public void ModelFolder(FolderCase c)
    {
        using var tmp = new TempFolder("model");
        string dir = Path.Combine(tmp.Path, "m");
        ModelDirectory.Save(dir, TinyVit, Weights());
        c.Damage(dir);
        Outcome o = Bounded.Run(() => ModelFactory.Load(dir));
        Assert.That(o.Error, Is.Not.Null, "the damaged folder loaded");
        Assert.That(o.Error, Is.TypeOf(c.Error), o.Error!.ToString());
        Assert.That(o.Error!.Message, Does.Contain(c.Reason));
    }

    public sealed record StoreCase(string Name, Action<string> Damage, string Warning)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<StoreCase> StoreCases()
    {
        string S(string d) => Path.Combine(d, CheckpointStore.StateFile);
        string M(string d) => Path.Combine(d, CheckpointStore.ModelFile);
        yield return new("ckpt-state-missing", d => File.Delete(S(d)), "state.json is missing");
        yield return new("ckpt-state-truncated", d => Truncate(S(d), 20), "not valid JSON");
        yield return new("ckpt-state-null", d => File.WriteAllText(S(d), "null"), "state.json is empty");
        yield return new("ckpt-state-step-text", d => File.WriteAllText(S(d), File.ReadAllText(S(d)).Replace("\"step\": 200", "\"step\": \"two hundred\"")), "not valid JSON");
        yield return new("ckpt-state-future-version", d => File.WriteAllText(S(d), System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(S(d)), "\"format_version\": [0-9]+", "\"format_version\": 7")), "format_version 7");
        yield return new("ckpt-model-truncated", d => Truncate(M(d), 100), "model.safetensors has SHA-256");
        yield return new("ckpt-model-bit-flip", d => { byte[] b = File.ReadAllBytes(M(d)); b[^1] ^= 1; File.WriteAllBytes(M(d), b); }, "model.safetensors has SHA-256");
        yield return new("ckpt-optimizer-missing", d => File.Delete(Path.Combine(d, CheckpointStore.OptimizerFile)), "optimizer.safetensors is missing");
        yield return new("ckpt-checksum-missing", d => File.WriteAllText(S(d), File.ReadAllText(S(d)).Replace("\"model.safetensors\"", "\"other.safetensors\"")), "lists no checksum for model.safetensors");
    }

    /// <summary>
    /// Damage found by this corpus and fixed in CheckpointStore.Verify: "sha256": null used to throw
    /// NullReferenceException out of LoadNewest, and NaN weights with a valid checksum used to be
    /// resumed from.
    /// </summary>
    public static IEnumerable<StoreCase> HardenedStoreCases()
    {
        string S(string d) => Path.Combine(d, CheckpointStore.StateFile);
        yield return new("ckpt-state-sha256-null", d => File.WriteAllText(S(d), File.ReadAllText(S(d)).Replace("\"sha256\": {", "\"sha256\": null, \"x\": {")), "checksum");
        yield return new("ckpt-nan-weights-checksum-valid", NanWeightsResealed, "non-finite");
    }

    [TestCaseSource(nameof(HardenedStoreCases))]
    public void TrainingCheckpointFallsBackHardened(StoreCase c) => TrainingCheckpointFallsBack(c);

    /// <summary>NaN in the weights with state.json's checksum recomputed: only a value check catches it.</summary>
    private static void NanWeightsResealed(string dir)
    {
        string m = Path.Combine(dir, CheckpointStore.ModelFile);
        Safetensors.Write(m, new Dictionary<string, Tensor> { ["w"] = Tensor.FromArray(new[] { 1f, float.NaN }, [2]) });
        string s = Path.Combine(dir, CheckpointStore.StateFile);
        JsonObject o = JsonNode.Parse(File.ReadAllText(s))!.AsObject();
        o["sha256"]![CheckpointStore.ModelFile] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(m)));
        File.WriteAllText(s, o.ToJsonString());
    }

    [TestCaseSource(nameof(StoreCases))]
    public void TrainingCheckpointFallsBack(StoreCase c)
    {
        using var tmp = new TempFolder("ckpt");
        var warnings = new List<string>();
        var store = new CheckpointStore(tmp.Path, keepLast: 3, warnings.Add);
        var model = new Dictionary<string, Tensor> { ["w"] = Tensor.FromArray(new[] { 1f, 2f }, [2]) };
        var optim = new Dictionary<string, Tensor> { ["w.exp_avg"] = Tensor.FromArray(new[] { 0f, 0f }, [2]) };
        store.Save(new TrainingCheckpoint { Step = 100, Data = new DataPosition(0, 200) }, model, optim);
        string newest = store.Save(new TrainingCheckpoint { Step = 200, Data = new DataPosition(0, 400) }, model, optim);
        c.Damage(newest);

        Outcome o = Bounded.Run(() => store.LoadNewest());
        LoadedCheckpoint? loaded = Expect.Success<LoadedCheckpoint?>(o);
        Assert.That(loaded, Is.Not.Null);
        Assert.That(loaded!.State.Step, Is.EqualTo(100), "fell back to the previous checkpoint");
        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0], Does.Contain(c.Warning).And.Contain("falling back to step-000100"));
        Assert.That(Directory.Exists(Path.Combine(tmp.Path, "damaged-step-000200")), "the damaged one is kept aside for inspection");
    }

    [Test]
    public void AllCheckpointsDamagedMeansNoneNotACrash()
    {
        using var tmp = new TempFolder("ckpt");
        var warnings = new List<string>();
        var store = new CheckpointStore(tmp.Path, keepLast: 3, warnings.Add);
        var t = new Dictionary<string, Tensor> { ["w"] = Tensor.Zeros([2]) };
        File.Delete(Path.Combine(store.Save(new TrainingCheckpoint { Step = 1, Data = new DataPosition(0, 2) }, t, t), CheckpointStore.StateFile));
        Assert.That(store.LoadNewest(), Is.Null);
        Assert.That(warnings.Single(), Does.Contain("no older checkpoint to fall back to"));
    }
}
