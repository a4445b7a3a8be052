using System.Text.Json;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;

namespace MaMA.Distributed.Tests;

/// <summary>
/// The real `mama pretrain` on 2 ranks against one process with the same global batch (8 pairs per micro-batch, 2 micro-batches per step, 6 AdamW steps), and resumes that
/// change the number of ranks. The model is MaMAConfig.Tiny with LoRA dropout 0.1 and GPT-2's
/// embedding, attention and residual dropout 0.1 (each rank draws the masks its rows have in the
/// whole batch, DropoutRows) and the late loss after the run (from the late step on, the SimCLR and local heads' BatchNorm sees each rank's
/// rows, as the published DDP run, and the losses differ by design: docs/distributed.md).
/// <para>
/// Tolerances: the forward of a distributed step sees exactly the single-process global batch
/// (gathered rows in rank order), so the step-1 loss is bit-equal; the gradients differ by float
/// summation order (each rank's backward sums over its rows, the all-reduce adds the two halves, then
/// x 1/2), ~1e-7 relative, and Adam's normalisation turns such differences in near-zero gradients into
/// parameter differences of up to ~lr x steps (measured 1.1e-5 relative after 6 steps at lr 1e-3).
/// Bounds: losses 1e-5 relative, every parameter 1e-4 relative (max |a - b| / max |a| per tensor),
/// while 6 steps move the parameters by more than 1e-2 relative.
/// </para>
/// These runs set "negatives": "global", the mode in which R ranks are one process with the global
/// micro-batch. The default, per-rank negatives (the published run), has its own pair of runs: 2 ranks
/// x 4 pairs x 2 micro-batches against one process with micro-batches of 4 x 4, dropout off (each
/// rank's 4 rows are then a micro-batch of the one process, with the same data, crops and masking),
/// for the 2 steps before their epochs' ends part.
/// The launcher is the fixture's: processes under mpirun (<see cref="MpiPretrainCliTests"/>) or
/// threads of one process (<see cref="ThreadPretrainCliTests"/>).
/// </summary>
[NonParallelizable]
public abstract class PretrainCliChecks
{
    private const int Steps = 6;
    private string _root = "";
    private CliRun.Result _one = null!, _two = null!, _twoStopped = null!, _twoToOne = null!, _oneToTwo = null!, _perRankTwo = null!;

    private string Dir(string name) => Path.Combine(_root, name);

    /// <summary>The launcher's name in folder names and messages (mpi, threads).</summary>
    protected abstract string Launcher { get; }

    /// <summary>`mama ARGS` as <paramref name="ranks"/> ranks of this fixture's launcher.</summary>
    private protected abstract CliRun.Result Ranks(int ranks, params string[] args);

    /// <summary>Ignores (or fails) the fixture when its launcher is missing on this machine.</summary>
    protected virtual void RequireLauncher() { }

    [OneTimeSetUp]
    public void RunAll()
    {
        RequireLauncher();
        _root = Path.Combine(Path.GetTempPath(), $"mama-{Launcher}-pretrain-{Environment.ProcessId}");
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
        Directory.CreateDirectory(_root);
        string model = Dir("model.json");
        MaMAConfig tiny = MaMAConfig.Tiny;
        ModelConfigFile.ForMaMA(tiny with { LateLossStep = 1000, Text = tiny.Text with { Lora = tiny.Text.Lora! with { Dropout = 0.1f } } }).Save(model);
        string perProcess8 = WriteConfig("one.json", model, microBatch: 8), perRank4 = WriteConfig("two.json", model, microBatch: 4);

        // The reference writes the synthetic data once; every other run reads it (--data).
        _one = Ok(CliRun.Mama(1, "pretrain", "--config", perProcess8, "--out", Dir("one")));
        string data = Path.Combine(Dir("one"), "synthetic");
        _two = Ok(Ranks(2, "pretrain", "--config", perRank4, "--out", Dir("two"), "--data", data));
        // Stopped after step 3 (mid-epoch: 36 training images are 4 micro-batches of 8, 2 per step), resumed on the other rank count.
        _twoStopped = Ok(Ranks(2, "pretrain", "--config", perRank4, "--out", Dir("two-to-one"), "--data", data, "--stop-after", "3"));
        _twoToOne = Ok(CliRun.Mama(1, "pretrain", "--out", Dir("two-to-one"), "--resume"));
        Ok(CliRun.Mama(1, "pretrain", "--config", perProcess8, "--out", Dir("one-to-two"), "--data", data, "--stop-after", "3"));
        _oneToTwo = Ok(Ranks(2, "pretrain", "--out", Dir("one-to-two"), "--resume"));

        // Per-rank negatives (the default: no "negatives" key), every dropout off.
        string model0 = Dir("model-no-dropout.json");
        ModelConfigFile.ForMaMA(tiny with { LateLossStep = 1000, Text = tiny.Text.WithoutDropout() }).Save(model0);
        string perRankTwo = WriteConfig("per-rank-two.json", model0, microBatch: 4, negatives: null, accumulation: 2, steps: PerRankSteps);
        string perRankOne = WriteConfig("per-rank-one.json", model0, microBatch: 4, negatives: null, accumulation: 4, steps: PerRankSteps);
        _perRankTwo = Ok(Ranks(2, "pretrain", "--config", perRankTwo, "--out", Dir("per-rank-two"), "--data", data));
        Ok(CliRun.Mama(1, "pretrain", "--config", perRankOne, "--out", Dir("per-rank-one"), "--data", data));
    }

    /// <summary>Steps of the per-rank pair: 36 images are 4 global micro-batches of 8 but 9 of 4, so the epochs part after step 2.</summary>
    private const int PerRankSteps = 2;

    [OneTimeTearDown]
    public void Clean()
    {
        if (_root.Length > 0 && Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static CliRun.Result Ok(CliRun.Result r)
    {
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return r;
    }

    private string WriteConfig(string name, string model, int microBatch, string? negatives = "global", int accumulation = 2, int steps = Steps)
    {
        string path = Dir(name);
        string negativesKey = negatives is null ? "" : $"\"negatives\": \"{negatives}\", ";
        File.WriteAllText(path, $$"""
            {
              "model": {{JsonSerializer.Serialize(model)}}, "data": null, "synthetic_studies": 16, "synthetic_width": 64,
              "device": "cpu", "seed": 0, {{negativesKey}}
              "optimizer": { "lr": 1e-3, "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8 },
              "schedule": { "warmup_steps": 2, "max_steps": {{steps}}, "min_lr": 1e-5 },
              "batch": { "micro_batch": {{microBatch}}, "accumulation": {{accumulation}} },
              "precision": "fp32", "activation_checkpointing": false, "grad_clip": 1.0,
              "mask_ratio": 1.0, "mask_meta": 0.8, "pair_probability": 0.5, "workers": 1,
              "checkpoint_every": 2, "keep_last": 5, "max_nonfinite_in_a_row": 5,
              "log_every": 1, "eval_every": 0, "eval_batches": 1
            }
            """);
        return path;
    }

    private static void AssertSameLosses(SortedDictionary<long, double> mine, SortedDictionary<long, double> reference, string what, int steps = Steps)
    {
        Assert.That(mine.Keys, Is.EqualTo(Enumerable.Range(1, steps).Select(i => (long)i)), $"{what}: one loss per step, logged once");
        foreach ((long step, double loss) in reference)
            Assert.That(mine[step], Is.EqualTo(loss).Within(1e-5 * Math.Abs(loss)), $"{what}: loss of step {step}");
    }

    private void AssertSameParameters(string run, string what, string referenceRun = "one")
    {
        var reference = CliRun.Tensors(Path.Combine(Dir(referenceRun), "final", "model.safetensors"));
        var mine = CliRun.Tensors(Path.Combine(Dir(run), "final", "model.safetensors"));
        Assert.That(mine.Keys, Is.EquivalentTo(reference.Keys), what);
        var worst = CliRun.RelativeErrors(reference, mine);
        TestContext.Out.WriteLine($"{what}: worst parameter {worst[0].Name} {worst[0].Error:E2} relative");
        Assert.That(worst[0].Error, Is.LessThan(1e-4), $"{what}: {worst[0].Name}");
    }

    [Test]
    public void Two_ranks_give_the_losses_and_parameters_of_one_process_with_the_same_global_batch()
    {
        SortedDictionary<long, double> reference = CliRun.Losses(Dir("one")), two = CliRun.Losses(Dir("two"));
        TestContext.Out.WriteLine("one process: " + string.Join(", ", reference.Values.Select(v => v.ToString("R"))));
        TestContext.Out.WriteLine("two ranks:   " + string.Join(", ", two.Values.Select(v => v.ToString("R"))));
        Assert.That(two[1], Is.EqualTo(reference[1]), "step 1: the same global batch through the same weights");
        AssertSameLosses(two, reference, "2 ranks");
        AssertSameParameters("two", "2 ranks");
        // The run must move the parameters well beyond the tolerance (trained tensors: checkpoint of step 2 vs final).
        var step2 = CliRun.Tensors(Path.Combine(Dir("one"), "checkpoints", "step-000002", "model.safetensors"));
        var final = CliRun.Tensors(Path.Combine(Dir("one"), "final", "model.safetensors"));
        Assert.That(CliRun.RelativeErrors(step2, final)[0].Error, Is.GreaterThan(1e-2));
        Assert.That(_two.Stdout, Does.Contain("x 2 ranks"));
        Assert.That(_two.Stdout, Does.Contain($"{Steps} steps in"));
    }

    /// <summary>
    /// The default, per-rank negatives: each rank's CLIP scores its own 4 pairs, the step's loss is the
    /// ranks' mean and the gradient the ranks' average, so 2 ranks x 2 micro-batches train as one process
    /// over 4 micro-batches of the same rows. The checkpoint records the mode.
    /// </summary>
    [Test]
    public void Per_rank_negatives_by_default_train_two_ranks_as_one_process_with_each_ranks_rows_as_a_micro_batch()
    {
        SortedDictionary<long, double> reference = CliRun.Losses(Dir("per-rank-one")), two = CliRun.Losses(Dir("per-rank-two"));
        TestContext.Out.WriteLine("one process, 4 x 4: " + string.Join(", ", reference.Values.Select(v => v.ToString("R"))));
        TestContext.Out.WriteLine("two ranks, per rank: " + string.Join(", ", two.Values.Select(v => v.ToString("R"))));
        AssertSameLosses(two, reference, "2 ranks, per-rank negatives", PerRankSteps);
        AssertSameParameters("per-rank-two", "2 ranks, per-rank negatives", referenceRun: "per-rank-one");
        Assert.That(_perRankTwo.Stdout + _perRankTwo.Stderr, Does.Contain("CLIP and SLA negatives per rank (4 pairs), NT-Xent over all 8"), _perRankTwo.ToString());
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir("per-rank-two"), "checkpoints", "step-000002", "state.json")));
        JsonElement extra = state.RootElement.EnumerateObject().Single(p => p.Name.Equals("extra", StringComparison.OrdinalIgnoreCase)).Value;
        Assert.That(extra.GetProperty("negatives").GetString(), Is.EqualTo("per_rank"));
        // Resuming it on another number of ranks changes what CLIP and SLA score, and says so (the run is finished: nothing else happens).
        CliRun.Result resumed = Ok(CliRun.Mama(1, "pretrain", "--out", Dir("per-rank-two"), "--resume"));
        Assert.That(resumed.Stdout + resumed.Stderr, Does.Contain("CLIP and SLA now score 8 pairs per rank instead of 4"), resumed.ToString());
    }

    [Test]
    public void Only_rank_zero_writes_the_run_folder_and_the_checkpoints_record_the_global_micro_batch()
    {
        string run = Dir("two");
        string[] entries = Directory.EnumerateFileSystemEntries(run).Select(Path.GetFileName).Where(n => n != ".lock").Order(StringComparer.Ordinal).ToArray()!;
        Assert.That(entries, Is.EqualTo(new[] { "checkpoints", "config.json", "final", "loss.png", "metrics.jsonl" }));
        Assert.That(Directory.EnumerateDirectories(Path.Combine(run, "checkpoints")).Select(Path.GetFileName).Order(),
            Is.EqualTo(new[] { "step-000002", "step-000004", "step-000006" }));
        Assert.That(File.ReadLines(Path.Combine(run, "metrics.jsonl")).Count(), Is.EqualTo(Steps), "one line per step: rank 1 writes none");
        // One rank speaks: the start line, the progress lines and the summary appear once.
        Assert.That(CountOf(_two.Stdout, "mama pretrain:"), Is.EqualTo(1), _two.ToString());
        Assert.That(CountOf(_two.Stdout, $"{Steps} steps in"), Is.EqualTo(1), _two.ToString());
        using var state = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "checkpoints", "step-000006", "state.json")));
        JsonElement extra = state.RootElement.EnumerateObject().Single(p => p.Name.Equals("extra", StringComparison.OrdinalIgnoreCase)).Value;
        Assert.That(extra.GetProperty("global_micro_batch").GetString(), Is.EqualTo("8"), "4 pairs per rank x 2 ranks");
        Assert.That(extra.GetProperty("ranks").GetString(), Is.EqualTo("2"));
    }

    [Test]
    public void Two_ranks_stopped_at_step_3_continue_on_one_rank_with_the_same_data_order()
    {
        Assert.That(_twoStopped.Stdout, Does.Contain("stopped after step 3 of 6"));
        Assert.That(Directory.Exists(Path.Combine(Dir("two-to-one"), "checkpoints", "step-000003")), "--stop-after writes its checkpoint");
        Assert.That(_twoToOne.Stderr + _twoToOne.Stdout, Does.Contain("global micro-batch 8"), _twoToOne.ToString());
        AssertSameLosses(CliRun.Losses(Dir("two-to-one")), CliRun.Losses(Dir("one")), "2 ranks then 1");
        AssertSameParameters("two-to-one", "2 ranks then 1");
    }

    [Test]
    public void One_rank_stopped_at_step_3_continues_on_two_ranks_with_the_same_data_order()
    {
        Assert.That(_oneToTwo.Stdout, Does.Contain("x 2 ranks"));
        AssertSameLosses(CliRun.Losses(Dir("one-to-two")), CliRun.Losses(Dir("one")), "1 rank then 2");
        AssertSameParameters("one-to-two", "1 rank then 2");
    }

    [Test]
    public void A_failure_on_every_rank_ends_the_job_with_a_message_instead_of_hanging()
    {
        // The run's global micro-batch of 8 does not split over 3 ranks: every rank fails; MPI_Abort ends mpirun,
        // the thread group's abort the other rank threads.
        CliRun.Result r = Ranks(3, "pretrain", "--out", Dir("one"), "--resume");
        Assert.That(r.ExitCode, Is.Not.EqualTo(0), r.ToString());
        Assert.That(r.Stderr, Does.Contain("does not split evenly over 3 ranks"), r.ToString());
        // A failure the user can act on is one line per rank, as in one process: no stack trace.
        Assert.That(r.Stderr, Does.Not.Contain(" at MaMA."), r.ToString());
        Assert.That(Directory.EnumerateDirectories(Path.Combine(Dir("one"), "checkpoints")).Count(), Is.EqualTo(3), "nothing was written");
    }

    [Test]
    public void Bad_launcher_values_are_usage_errors()
    {
        CliRun.Result r = CliRun.Mama(1, "pretrain", "--config", Dir("one.json"), "--out", Dir("bad"), "--launcher", "slurm");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.Stderr, Does.Contain("--launcher must be none, mpi or threads"));
        r = CliRun.Mama(1, "pretrain", "--help");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Stdout, Does.Contain("--launcher").And.Contain("--stop-after"));
    }

    private static int CountOf(string text, string what)
    {
        int n = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
