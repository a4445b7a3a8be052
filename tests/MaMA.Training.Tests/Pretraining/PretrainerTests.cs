using MaMA.Model.Checkpoints;
using MaMA.Training.Checkpoints;
using MaMA.Training.Config;
using MaMA.Training.Pretraining;
using MaMA.Training.Runs;

namespace MaMA.Training.Tests.Pretraining;

public class PretrainerTests
{
    private readonly List<string> _dirs = [];

    private string NewRun(string name)
    {
        string dir = TestPaths.NewScratch(name);
        _dirs.Add(dir);
        return dir;
    }

    [TearDown]
    public void TearDown()
    {
        foreach (string d in _dirs) Directory.Delete(d, recursive: true);
        _dirs.Clear();
    }

    [Test]
    [Category("Slow")]
    public void TinyPretrainingLowersTheLossAndWritesTheRunFolder()
    {
        string run = NewRun("lower");
        var result = TinyRuns.Train(TinyRuns.Config(steps: 12, checkpointEvery: 6), run);
        Assert.That(result.Steps, Is.EqualTo(12));
        Assert.That(result.Skipped, Is.EqualTo(0));
        IReadOnlyList<MetricsLine> lines = TinyRuns.TrainLines(run);
        Assert.That(lines.Select(l => l.Step), Is.EqualTo(Enumerable.Range(1, 12).Select(i => (long)i)));
        foreach (string key in new[] { "loss", "loss_clip_v1", "loss_clip_v2", "loss_ntxent", "loss_sla_t2i", "loss_sla_i2t", "lr", "grad_norm", "i2t_top1", "images_per_s", "memory_mb" })
            Assert.That(lines[0].Values.ContainsKey(key), Is.True, key);
        double first = lines.Take(3).Average(l => l["loss"]), lastLoss = lines.TakeLast(3).Average(l => l["loss"]);
        TestContext.Out.WriteLine($"tiny loss: first 3 steps {first:F4}, last 3 {lastLoss:F4}; {result.ImagesPerSecond:F1} pairs/s");
        Assert.That(lastLoss, Is.LessThan(first));
        Assert.That(File.Exists(Path.Combine(run, "config.json")), Is.True);
        Assert.That(File.Exists(Path.Combine(run, "loss.png")), Is.True);
        Assert.That(File.Exists(Path.Combine(run, "final", "model.safetensors")), Is.True);
        Assert.That(new CheckpointStore(Path.Combine(run, "checkpoints"), 2).List().Select(c => c.Step), Is.EqualTo(new long[] { 6, 12 }));
    }

    /// <summary>
    /// With validation every step, RUN/best holds the model of the lowest validation loss, its loss
    /// and step in the weights' metadata; a run killed after step 3 and resumed (step 3 runs again)
    /// ends with the same best as the uninterrupted run, and the best model loads.
    /// </summary>
    [Test]
    public void TheBestValidationModelIsKeptAcrossAResume()
    {
        string whole = NewRun("best-whole"), parts = NewRun("best-parts");
        var config = TinyRuns.Config(steps: 4, checkpointEvery: 2) with { EvalEvery = 1, EvalBatches = 1, Batch = new BatchSettings { MicroBatch = 4, Accumulation = 2 } };
        var messages = new List<string>();
        TinyRuns.Train(config, whole, messages: messages);
        Assert.That(messages, Has.None.Contains("no validation"), "the tiny dataset's valid split holds a micro-batch");
        List<MetricsLine> evals = MetricsLog.Read(Path.Combine(whole, "metrics.jsonl")).Where(l => l.Kind == "eval").ToList();
        Assert.That(evals.Select(l => l.Step), Is.EqualTo(new long[] { 1, 2, 3, 4 }));
        MetricsLine lowest = evals.MinBy(l => l["val_loss"])!;
        TestContext.Out.WriteLine("validation losses: " + string.Join(", ", evals.Select(l => $"step {l.Step} {l["val_loss"]:R}")));
        Assert.That(lowest.Step, Is.LessThanOrEqualTo(2), "this check needs the best before the resumed steps: the resume must not forget it");
        BestModel best = BestModel.Read(Path.Combine(whole, "best"));
        Assert.That(best.Loss, Is.EqualTo(lowest["val_loss"]));
        Assert.That(best.Step, Is.EqualTo(lowest.Step));
        using (var model = ModelDirectory.Load(Path.Combine(whole, "best")))
            Assert.That(model.Config.Arch, Is.EqualTo(ModelArch.Mama));

        TinyRuns.Train(config, parts, killAfter: 3);
        TinyRuns.Train(null, parts, resume: true);
        BestModel resumed = BestModel.Read(Path.Combine(parts, "best"));
        Assert.That((resumed.Loss, resumed.Step), Is.EqualTo((best.Loss, best.Step)));
        Assert.That(File.ReadAllBytes(Path.Combine(parts, "best", "model.safetensors")),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(whole, "best", "model.safetensors"))), "the same model, bit for bit");
    }

    [Test]
    public void ResumedRunReachesTheSameLossesAsAnUninterruptedOne()
    {
        string whole = NewRun("whole"), parts = NewRun("parts");
        var config = TinyRuns.Config(steps: 4, checkpointEvery: 2);
        TinyRuns.Train(config, whole);
        // Killed after step 3: the newest checkpoint is step 2, step 3 runs again after the resume.
        TinyRuns.Train(config, parts, killAfter: 3);
        Assert.That(TinyRuns.TrainLines(parts).Last().Step, Is.EqualTo(3));
        var messages = new List<string>();
        TinyRuns.Train(null, parts, resume: true, messages: messages);
        Assert.That(messages, Has.Some.Contains("resuming from").And.Some.Contains("step 2"));

        var a = TinyRuns.TrainLines(whole);
        var b = TinyRuns.TrainLines(parts);
        Assert.That(b.Select(l => l.Step), Is.EqualTo(a.Select(l => l.Step)));
        foreach (string key in new[] { "loss", "loss_clip_v1", "loss_ntxent", "loss_sla_t2i", "grad_norm", "lr" })
            for (int i = 0; i < a.Count; i++)
                Assert.That(b[i][key], Is.EqualTo(a[i][key]), $"{key} at step {a[i].Step}");
    }

    [Test]
    public void NonFiniteBatchIsSkippedAndCounted()
    {
        string run = NewRun("nan");
        var messages = new List<string>();
        var result = TinyRuns.Train(TinyRuns.Config(steps: 3), run, messages: messages,
            hook: (step, micro, batch) => { if (step == 1 && micro == 0) batch.View1[7] = float.NaN; });
        Assert.That(result.Steps, Is.EqualTo(3));
        Assert.That(result.Skipped, Is.EqualTo(1));
        Assert.That(result.StopMessage, Is.Null);
        Assert.That(double.IsFinite(result.LastLoss), Is.True);
        var lines = TinyRuns.TrainLines(run);
        Assert.That(lines[1]["skipped_total"], Is.EqualTo(1));
        Assert.That(lines[1]["loss"], Is.NaN);
        Assert.That(lines[2]["loss"], Is.Not.NaN);
        Assert.That(lines.Select(l => l["step_seconds"]).Sum(), Is.GreaterThan(0));
        TestContext.Out.WriteLine("step seconds: " + string.Join(", ", lines.Select(l => l["step_seconds"].ToString("F2"))));
    }

    [Test]
    [Category("Slow")]
    public void TooManyNonFiniteStepsInARowStopTheRunKeepingTheLastGoodCheckpoint()
    {
        string run = NewRun("nan-stop");
        var result = TinyRuns.Train(TinyRuns.Config(steps: 10, checkpointEvery: 2), run,
            hook: (step, _, batch) => { if (step >= 3) batch.View1[0] = float.PositiveInfinity; });
        Assert.That(result.StopMessage, Does.Contain("3 optimizer steps in a row"));
        Assert.That(result.Steps, Is.EqualTo(6));
        Assert.That(result.LastCheckpointStep, Is.EqualTo(2));
        var store = new CheckpointStore(Path.Combine(run, "checkpoints"), 2);
        Assert.That(store.LoadNewest()!.State.Step, Is.EqualTo(2));
        Assert.That(Directory.Exists(Path.Combine(run, "final")), Is.False);
    }

    [Test]
    [Category("Slow")]
    public void ResumeFallsBackFromADamagedCheckpoint()
    {
        string run = NewRun("damaged");
        TinyRuns.Train(TinyRuns.Config(steps: 4, checkpointEvery: 2), run, killAfter: 4);
        // kill after 4 happens before the step-4 checkpoint: only step 2 exists; make a step-4 one by resuming
        var store = new CheckpointStore(Path.Combine(run, "checkpoints"), 2);
        Assert.That(store.List().Select(c => c.Step), Is.EqualTo(new long[] { 2 }));
        TinyRuns.Train(null, run, resume: true);
        Assert.That(store.List().Select(c => c.Step), Is.EqualTo(new long[] { 2, 4 }));
        string optimizer = Path.Combine(run, "checkpoints", "step-000004", "optimizer.safetensors");
        File.WriteAllBytes(optimizer, File.ReadAllBytes(optimizer)[..100]);
        var messages = new List<string>();
        TinyRuns.Train(TinyRuns.Config(steps: 4, checkpointEvery: 2) with { }, run, resume: true, messages: messages);
        Assert.That(messages, Has.Some.Contains("damaged").And.Some.Contains("falling back to step-000002"));
        Assert.That(messages, Has.Some.Contains("resuming from").And.Some.Contains("step 2"));
        Assert.That(store.List().Select(c => c.Step), Is.EqualTo(new long[] { 2, 4 }));
    }

    [Test]
    public void CheckpointsLeaveOutTheFrozenBaseAndAResumeOverAnotherBaseFails()
    {
        string run = NewRun("slim");
        var config = TinyRuns.Config(steps: 3, checkpointEvery: 1);
        TinyRuns.Train(config, run, killAfter: 2);
        var store = new CheckpointStore(Path.Combine(run, "checkpoints"), 2);
        LoadedCheckpoint checkpoint = store.LoadNewest()!;
        Assert.That(checkpoint.State.FormatVersion, Is.EqualTo(2));
        FrozenBase frozen = checkpoint.State.FrozenBase!;
        Assert.That(frozen.Model, Is.EqualTo("tiny"));
        Assert.That(frozen.Sha256, Has.Length.EqualTo(64));
        using (var file = MaMA.Engine.Serialization.Safetensors.Open(checkpoint.ModelPath))
        {
            var stored = file.Names.ToHashSet();
            // The frozen GPT-2 base (wte, attention and MLP weights under LoRA) is out; LoRA factors, ViT, heads and BatchNorm statistics are in.
            Assert.That(frozen.Names, Has.Some.Contains("wte.weight"));
            Assert.That(stored.Intersect(frozen.Names), Is.Empty);
            Assert.That(stored, Has.Some.Contains("lora_A"));
            Assert.That(stored, Has.Some.StartsWith("img_encoder_q.model."));
            Assert.That(stored, Has.Some.Contains("running_mean"));
            Assert.That(stored, Does.Contain("local_scale"));
        }
        TestContext.Out.WriteLine($"checkpoint model file {new FileInfo(checkpoint.ModelPath).Length / 1e6:F2} MB, frozen base left out {frozen.Bytes / 1e6:F2} MB");
        Assert.That(new FileInfo(checkpoint.ModelPath).Length, Is.LessThan(frozen.Bytes));

        // Another seed draws another frozen base: the resume must refuse it.
        var e = Assert.Throws<InvalidOperationException>(() => TinyRuns.Train(config with { Seed = 6 }, run, resume: true))!;
        Assert.That(e.Message, Does.Contain("frozen base").And.Contain("start a new run"));
    }

    [Test]
    public void ASecondTrainerOnTheSameRunFolderIsRefused()
    {
        string run = NewRun("lock");
        using (MaMA.Training.Runs.RunLock.Acquire(run))
        {
            var e = Assert.Throws<InvalidOperationException>(() => TinyRuns.Train(TinyRuns.Config(steps: 3), run))!;
            Assert.That(e.Message, Does.Contain("in use by another run"));
        }
    }
}
