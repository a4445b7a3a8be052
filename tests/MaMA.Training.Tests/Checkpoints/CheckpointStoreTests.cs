using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Tensors;
using MaMA.Training.Checkpoints;

namespace MaMA.Training.Tests.Checkpoints;

public class CheckpointStoreTests
{
    private string _root = "";

    [SetUp]
    public void SetUp() => _root = TestPaths.NewScratch("ckpt");

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    private static (Linear Model, AdamW Optimizer) Trained(int steps)
    {
        var model = new Linear(5, 3, new Random(1));
        _ = model.NamedParameters().ToList();
        var opt = new AdamW(ParamGroup.DecayAndNoDecay(model.Parameters(), 1e-2, 0.1));
        for (int i = 0; i < steps; i++) Step(model, opt, i);
        return (model, opt);
    }

    // loss = sum(model(x)^2) for a step-dependent x.
    private static void Step(Linear model, AdamW opt, int i)
    {
        opt.ZeroGrad();
        Tensor x = Tensor.FromArray(Enumerable.Range(0, 10).Select(k => MathF.Sin(k + i)).ToArray(), [2, 5]);
        Tensor y = model.Forward(x);
        Ops.Sum(Ops.Mul(y, y)).Backward();
        opt.Step();
    }

    private static TrainingCheckpoint State(long step) => new()
    {
        Step = step,
        Data = new DataPosition(1, (int)step),
        LearningRate = 1e-3,
        SkippedTotal = 2,
        RandomStreams = new Dictionary<string, ulong> { ["text.lora"] = 12345678901234UL },
    };

    [Test]
    public void SaveThenLoadRestoresModelOptimizerAndState()
    {
        var (model, opt) = Trained(3);
        var store = new CheckpointStore(_root, 3);
        string folder = store.Save(State(3), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        Assert.That(Path.GetFileName(folder), Is.EqualTo("step-000003"));
        Assert.That(Directory.GetFiles(folder).Select(Path.GetFileName), Is.EquivalentTo(new[] { "model.safetensors", "optimizer.safetensors", "state.json" }));

        LoadedCheckpoint loaded = store.LoadNewest()!;
        Assert.That(loaded.State.Step, Is.EqualTo(3));
        Assert.That(loaded.State.Data, Is.EqualTo(new DataPosition(1, 3)));
        Assert.That(loaded.State.RandomStreams["text.lora"], Is.EqualTo(12345678901234UL));
        Assert.That(loaded.State.Sha256.Keys, Is.EquivalentTo(new[] { "model.safetensors", "optimizer.safetensors" }));

        // A fresh model + optimizer restored from the checkpoint continues exactly like the original.
        var model2 = new Linear(5, 3, new Random(99));
        _ = model2.NamedParameters().ToList();
        var opt2 = new AdamW(ParamGroup.DecayAndNoDecay(model2.Parameters(), 1e-2, 0.1));
        model2.LoadSafetensors(loaded.ModelPath);
        OptimizerStateFile.Load(opt2, model2, loaded.OptimizerPath);
        Assert.That(opt2.StepCount, Is.EqualTo(3));
        for (int i = 3; i < 6; i++)
        {
            Step(model, opt, i);
            Step(model2, opt2, i);
        }
        Assert.That(model2.Weight.ToArray<float>(), Is.EqualTo(model.Weight.ToArray<float>()));
        Assert.That(model2.Bias!.ToArray<float>(), Is.EqualTo(model.Bias!.ToArray<float>()));
    }

    [Test]
    public void OptimizerStateIsKeyedByParameterName()
    {
        var (model, opt) = Trained(1);
        Assert.That(OptimizerStateFile.ToNamed(opt, model).Keys, Is.EquivalentTo(new[]
        {
            "step_count", "weight.step", "weight.exp_avg", "weight.exp_avg_sq", "bias.step", "bias.exp_avg", "bias.exp_avg_sq",
        }));
    }

    [Test]
    public void OptimizerStateOfAnotherModelIsRejected()
    {
        var (model, opt) = Trained(1);
        new CheckpointStore(_root, 1).Save(State(1), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        var other = new Linear(5, 3, new Random(1), bias: false);
        _ = other.NamedParameters().ToList();
        var otherOpt = new AdamW(other.Parameters());
        var e = Assert.Throws<InvalidDataException>(() => OptimizerStateFile.Load(otherOpt, other, Path.Combine(_root, "step-000001", "optimizer.safetensors")))!;
        Assert.That(e.Message, Does.Contain("bias."));
    }

    [Test]
    public void KeepsOnlyTheNewestN()
    {
        var (model, opt) = Trained(1);
        var store = new CheckpointStore(_root, 2);
        foreach (long s in new long[] { 10, 20, 30, 40 }) store.Save(State(s), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        Assert.That(store.List().Select(c => c.Step), Is.EqualTo(new long[] { 30, 40 }));
    }

    [Test]
    public void DamagedCheckpointFallsBackToThePreviousOneWithAWarning()
    {
        var (model, opt) = Trained(1);
        var warnings = new List<string>();
        var store = new CheckpointStore(_root, 3, warnings.Add);
        store.Save(State(10), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        string newest = store.Save(State(20), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));

        // One flipped bit in the weights.
        string weights = Path.Combine(newest, "model.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        bytes[^3] ^= 0x10;
        File.WriteAllBytes(weights, bytes);

        LoadedCheckpoint loaded = store.LoadNewest()!;
        Assert.That(loaded.State.Step, Is.EqualTo(10));
        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0], Does.Contain("model.safetensors has SHA-256"));
        Assert.That(warnings[0], Does.Contain("falling back to step-000010"));
        Assert.That(Directory.Exists(Path.Combine(_root, "damaged-step-000020")), Is.True);
        Assert.That(store.List().Select(c => c.Step), Is.EqualTo(new long[] { 10 }));
    }

    [TestCase("state.json")]
    [TestCase("optimizer.safetensors")]
    public void MissingOrTruncatedFilesAreDetected(string file)
    {
        var (model, opt) = Trained(1);
        var warnings = new List<string>();
        var store = new CheckpointStore(_root, 3, warnings.Add);
        string folder = store.Save(State(5), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        string path = Path.Combine(folder, file);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..20]);
        Assert.That(store.LoadNewest(), Is.Null);
        Assert.That(warnings.Single(), Does.Contain("no older checkpoint"));
    }

    [Test]
    public void TemporaryFolderOfAKilledWriterIsNeverLoadedAndIsRemoved()
    {
        var (model, opt) = Trained(1);
        var store = new CheckpointStore(_root, 3);
        store.Save(State(10), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        // What a writer killed before its rename leaves: a complete-looking folder under the temporary name.
        string killed = Path.Combine(_root, ".tmp-step-000020-4242");
        CopyDirectory(Path.Combine(_root, "step-000010"), killed);
        Assert.That(store.List().Select(c => c.Step), Is.EqualTo(new long[] { 10 }));
        Assert.That(store.LoadNewest()!.State.Step, Is.EqualTo(10));
        store.Save(State(30), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        Assert.That(Directory.Exists(killed), Is.False);
    }

    [Test]
    public void SavingAStepAgainReplacesIt()
    {
        var (model, opt) = Trained(1);
        var store = new CheckpointStore(_root, 3);
        store.Save(State(10), model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        store.Save(State(10) with { LearningRate = 7 }, model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        Assert.That(store.LoadNewest()!.State.LearningRate, Is.EqualTo(7));
        Assert.That(Directory.GetDirectories(_root).Select(Path.GetFileName), Is.EqualTo(new[] { "step-000010" }));
    }

    [Test]
    public void ACheckpointMovedAsideByAKilledReplacementIsRestored()
    {
        // Saving step 10 again moves the old step-000010 aside, then renames the new one into place.
        // Killed between the two renames, both are temporaries: the old one is complete and comes back.
        var (model, opt) = Trained(1);
        var warnings = new List<string>();
        var store = new CheckpointStore(_root, 3, warnings.Add);
        store.Save(State(10) with { LearningRate = 5 }, model.StateDict(), OptimizerStateFile.ToNamed(opt, model));
        Directory.Move(Path.Combine(_root, "step-000010"), Path.Combine(_root, ".tmp-old-step-000010-4242"));
        CopyDirectory(Path.Combine(_root, ".tmp-old-step-000010-4242"), Path.Combine(_root, ".tmp-step-000010-4242"));
        store.RemoveTemporaries();
        Assert.That(Directory.GetDirectories(_root).Select(Path.GetFileName), Is.EqualTo(new[] { "step-000010" }));
        Assert.That(store.LoadNewest()!.State.LearningRate, Is.EqualTo(5));
        Assert.That(warnings, Has.Some.Contains("restored step-000010"));
        // Where the step's folder stands again, a moved-aside copy is only a temporary.
        Directory.CreateDirectory(Path.Combine(_root, ".tmp-old-step-000010-4243"));
        store.RemoveTemporaries();
        Assert.That(Directory.GetDirectories(_root).Select(Path.GetFileName), Is.EqualTo(new[] { "step-000010" }));
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
