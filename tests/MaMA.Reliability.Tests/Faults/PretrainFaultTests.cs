using System.Globalization;
using MaMA.Reliability.Tests.Support;
using MaMA.Engine.Memory;
using MaMA.Training.Checkpoints;
using MaMA.Training.Runs;

namespace MaMA.Reliability.Tests.Faults;

/// <summary>
/// Faults against the real CLI (`dotnet mama.dll pretrain`, tiny config, CPU) in a child process:
/// kill -9 during training and during a checkpoint write, then --resume; a file-size limit hit while
/// a checkpoint is written (EFBIG, as a full disk); a NaN put into a batch; a micro-batch larger than the
/// device memory limit (MAMA_DEVICE_MEMORY_LIMIT, device out of memory). docs/reliability.md, "Fault tests".
/// </summary>
[TestFixture, Category("Slow"), NonParallelizable]
public sealed class PretrainFaultTests
{
    private const long Steps = 40;
    private const int CheckpointEvery = 10;

    private TempFolder _root = null!;
    private string _data = "";
    private string _config = "";
    private string _reference = "";

    [OneTimeSetUp]
    public void WriteDataAndTheUninterruptedRun()
    {
        _root = new TempFolder("faults");
        _data = TinyPretrain.Data(_root.Path);
        _config = TinyPretrain.Config(_root.Path, "tiny-40", _data, Steps, CheckpointEvery);
        _reference = Path.Combine(_root.Path, "reference");
        (int exit, CliProcess p) = CliProcess.Run(TinyPretrain.Pretrain(_config, _reference));
        using (p) Assert.That(exit, Is.EqualTo(0), p.Describe());
        Assert.That(TinyPretrain.CheckpointSteps(_reference), Is.EqualTo(new long[] { 20, 30, 40 }));
    }

    [OneTimeTearDown]
    public void RemoveRuns() => _root.Dispose();

    [Test]
    public void KillDuringTrainingThenResumeLosesOnlyTheStepsSinceTheCheckpoint()
    {
        string run = Path.Combine(_root.Path, "killed-training");
        long killedAt;
        using (CliProcess p = CliProcess.Start(TinyPretrain.Pretrain(_config, run)))
        {
            // Between the checkpoints of steps 10 and 20 when the machine keeps up; wherever it lands, the checks below hold.
            p.WaitUntil(() => TinyPretrain.LastLoggedStep(run) >= 15, "step 15 in metrics.jsonl");
            p.KillHard();
            Assert.That(p.WaitForExit(), Is.EqualTo(128 + 9), "killed by SIGKILL, not finished");
        }
        killedAt = TinyPretrain.LastLoggedStep(run);
        long[] kept = TinyPretrain.CheckpointSteps(run);
        Assert.That(kept, Is.Not.Empty, $"no checkpoint by step {killedAt}");
        long newest = kept[^1];
        Assert.That(killedAt - newest, Is.InRange(0, CheckpointEvery), $"killed after step {killedAt}, newest checkpoint {newest}");
        foreach (long s in kept) Assert.DoesNotThrow(() => CheckpointStore.Verify(Path.Combine(TinyPretrain.Checkpoints(run), CheckpointStore.FolderName(s))));

        (int exit, CliProcess resumed) = CliProcess.Run(TinyPretrain.Resume(run));
        using (resumed)
        {
            Assert.That(exit, Is.EqualTo(0), resumed.Describe());
            Assert.That(resumed.Stderr, Does.Contain($"resuming from {Path.Combine(TinyPretrain.Checkpoints(run), CheckpointStore.FolderName(newest))} (step {newest},"));
        }
        int values = TinyPretrain.AssertSameTraining(TinyPretrain.TrainLines(_reference), TinyPretrain.TrainLines(run));
        Assert.That(TinyPretrain.CheckpointFiles(run, Steps), Is.EqualTo(TinyPretrain.CheckpointFiles(_reference, Steps)), "step-000040 byte for byte");
        Assert.That(TinyPretrain.Temporaries(run), Is.Empty);
        TestContext.Out.WriteLine($"killed after step {killedAt}; newest checkpoint step {newest} ({killedAt - newest} steps lost); " +
                                  $"resumed run equals the uninterrupted one: {values} logged values ==, step-000040 files identical");
    }

    [TestCase("model")]
    [TestCase("optimizer")]
    [TestCase("state")]
    public void KillDuringCheckpointWriteThenResumeUsesThePreviousCheckpoint(string point)
    {
        string run = Path.Combine(_root.Path, "killed-write-" + point);
        string[] temporaries;
        using (CliProcess p = CliProcess.Start(TinyPretrain.Pretrain(_config, run), new Dictionary<string, string> { [FaultHooks.CheckpointPause] = $"20:{point}" }))
        {
            p.WaitUntil(() => p.Stderr.Contains("fault hook: paused writing checkpoint step 20", StringComparison.Ordinal), "the checkpoint writer paused at step 20");
            p.KillHard();
            Assert.That(p.WaitForExit(), Is.EqualTo(128 + 9));
            temporaries = TinyPretrain.Temporaries(run);
            Assert.That(temporaries, Is.EqualTo(new[] { $".tmp-step-000020-{p.Id}" }), "killed inside the write");
        }
        string temp = Path.Combine(TinyPretrain.Checkpoints(run), temporaries[0]);
        string[] expectedFiles = point switch
        {
            "model" => [CheckpointStore.ModelFile],
            "optimizer" => [CheckpointStore.ModelFile, CheckpointStore.OptimizerFile],
            _ => [CheckpointStore.ModelFile, CheckpointStore.OptimizerFile, CheckpointStore.StateFile],
        };
        Assert.That(Directory.GetFiles(temp).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal), Is.EqualTo(expectedFiles.Order(StringComparer.Ordinal)));
        Assert.That(TinyPretrain.CheckpointSteps(run), Is.EqualTo(new long[] { 10 }), "step 20 was never published");
        Assert.That(TinyPretrain.LastLoggedStep(run), Is.EqualTo(20));
        Dictionary<string, string> step10 = TinyPretrain.CheckpointFiles(run, 10);

        (int exit, CliProcess resumed) = CliProcess.Run(TinyPretrain.Resume(run));
        using (resumed)
        {
            Assert.That(exit, Is.EqualTo(0), resumed.Describe());
            Assert.That(resumed.Stderr, Does.Contain($"(step 10,"), resumed.Describe());
            Assert.That(resumed.Stderr, Does.Not.Contain("damaged"), "the temporary folder is not a checkpoint");
        }
        Assert.That(TinyPretrain.Temporaries(run), Is.Empty, "the temporary folder was removed");
        Assert.That(TinyPretrain.CheckpointSteps(run), Is.EqualTo(new long[] { 20, 30, 40 }));
        int values = TinyPretrain.AssertSameTraining(TinyPretrain.TrainLines(_reference), TinyPretrain.TrainLines(run));
        Assert.That(TinyPretrain.CheckpointFiles(run, Steps), Is.EqualTo(TinyPretrain.CheckpointFiles(_reference, Steps)));
        Assert.That(TinyPretrain.CheckpointFiles(run, 20), Is.EqualTo(TinyPretrain.CheckpointFiles(_reference, 20)));
        TestContext.Out.WriteLine($"killed at '{point}' of checkpoint 20 ({string.Join(", ", expectedFiles)} in {temporaries[0]}); step-000010 intact " +
                                  $"({step10[CheckpointStore.ModelFile][..12]}...); resumed from step 10: {values} logged values == the uninterrupted run");
    }

    [Test]
    public void FileSizeLimitDuringCheckpointWriteLeavesTheOldCheckpointAndAClearMessage()
    {
        // 10 steps with checkpoints at 5 and 10, then --resume with max_steps 20 under `ulimit -f 64`
        // (64 KiB per file): checkpoint 15's model.safetensors (about 220 KB) gets EFBIG, as on a full disk.
        string run = Path.Combine(_root.Path, "file-size-limit");
        string first = TinyPretrain.Config(_root.Path, "tiny-10", _data, 10, 5);
        (int exit, CliProcess p) = CliProcess.Run(TinyPretrain.Pretrain(first, run));
        using (p) Assert.That(exit, Is.EqualTo(0), p.Describe());
        Dictionary<string, string> before = TinyPretrain.CheckpointFiles(run, 10);
        long modelBytes = new FileInfo(Path.Combine(TinyPretrain.Checkpoints(run), "step-000010", CheckpointStore.ModelFile)).Length;
        Assert.That(modelBytes, Is.GreaterThan(64 * 1024), "the limit must cut model.safetensors");

        string longer = TinyPretrain.Config(_root.Path, "tiny-20", _data, 20, 5);
        // SIGXFSZ would kill the process before write() returns EFBIG, so it is ignored. CoreCLR's W^X
        // double mapping backs executable memory with a file that the limit refuses ("Failed to create
        // CoreCLR, HRESULT: 0x8007000E"), so it is turned off for this run.
        (exit, p) = CliProcess.Run(["pretrain", "--config", longer, "--out", run, "--resume"],
            new Dictionary<string, string> { ["DOTNET_EnableWriteXorExecute"] = "0" }, shellPrefix: "trap '' XFSZ; ulimit -f 64");
        using (p)
        {
            Assert.That(exit, Is.EqualTo(1), p.Describe());
            Assert.That(p.Stderr, Does.Contain("mama pretrain: could not write checkpoint step-000015"), p.Describe());
            Assert.That(p.Stderr, Does.Contain("file-size limit or what the file system allows (EFBIG)"), p.Describe());
            Assert.That(p.Stderr, Does.Contain("the newest complete checkpoint, step-000010, is intact"), p.Describe());
            TinyPretrain.AssertNoStackTrace(p);
            TestContext.Out.WriteLine(p.Stderr.Split('\n').Last(l => l.StartsWith("mama pretrain:", StringComparison.Ordinal)));
        }
        Assert.That(TinyPretrain.Temporaries(run), Is.Empty, "the partial checkpoint was removed");
        Assert.That(TinyPretrain.CheckpointSteps(run), Is.EqualTo(new long[] { 5, 10 }));
        Assert.That(TinyPretrain.CheckpointFiles(run, 10), Is.EqualTo(before), "step-000010 unchanged");
        Assert.DoesNotThrow(() => CheckpointStore.Verify(Path.Combine(TinyPretrain.Checkpoints(run), "step-000010")));
        Assert.That(TinyPretrain.LastLoggedStep(run), Is.EqualTo(15), "steps 11-15 ran; their checkpoint failed");

        // With room again, --resume continues from step 10 and finishes.
        (exit, p) = CliProcess.Run(TinyPretrain.Resume(run));
        using (p)
        {
            Assert.That(exit, Is.EqualTo(0), p.Describe());
            Assert.That(p.Stderr, Does.Contain("(step 10,"));
        }
        Assert.That(TinyPretrain.CheckpointSteps(run), Is.EqualTo(new long[] { 10, 15, 20 }));
    }

    [Test]
    public void NanInABatchIsSkippedCountedAndTrainingContinues()
    {
        string run = Path.Combine(_root.Path, "nan");
        string config = TinyPretrain.Config(_root.Path, "tiny-8", _data, 8, 4);
        (int exit, CliProcess p) = CliProcess.Run(TinyPretrain.Pretrain(config, run), new Dictionary<string, string> { [FaultHooks.NanAtStep] = "3" });
        using (p)
        {
            Assert.That(exit, Is.EqualTo(0), p.Describe());
            Assert.That(p.Stderr, Does.Contain("fault hook: NaN put into view 1 of step 3"));
            Assert.That(p.Stdout + p.Stderr, Does.Contain("step 3: non-finite loss"));
            Assert.That(p.Stdout, Does.Contain("1 skipped"));
        }
        IReadOnlyList<MetricsLine> lines = TinyPretrain.TrainLines(run);
        Assert.That(lines.Select(l => l.Step), Is.EqualTo(new long[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
        Assert.That(lines.Select(l => l.Values["skipped_total"]), Is.EqualTo(new double[] { 0, 0, 1, 1, 1, 1, 1, 1 }));
        Assert.That(lines[2].Values["loss"], Is.NaN, "metrics.jsonl writes the skipped step's loss as null");
        foreach (MetricsLine l in lines.Where(l => l.Step != 3))
        {
            Assert.That(double.IsFinite(l.Values["loss"]), $"step {l.Step} loss {l.Values["loss"]}");
            Assert.That(double.IsFinite(l.Values["grad_norm"]), $"step {l.Step} grad_norm");
        }
        // The NaN never reached the weights: both checkpoints verify (checksums and finite weights), and count the skip.
        foreach (long s in new long[] { 4, 8 })
        {
            LoadedCheckpoint c = CheckpointStore.Verify(Path.Combine(TinyPretrain.Checkpoints(run), CheckpointStore.FolderName(s)));
            Assert.That(c.State.SkippedTotal, Is.EqualTo(1));
            Assert.That(c.State.SkippedInARow, Is.EqualTo(0));
        }
        TestContext.Out.WriteLine($"step 3 skipped (loss null, skipped_total 1); steps 4-8 losses {string.Join(", ", lines.Skip(3).Select(l => l.Values["loss"].ToString("F3", CultureInfo.InvariantCulture)))}");
    }

    [Test]
    public void DeviceOutOfMemoryEndsWithOneMessageAndExitCode1()
    {
        // MAMA_DEVICE_MEMORY_LIMIT caps the CPU device's allocator as a GPU's memory would be: a micro-batch
        // of 2 trains under 128 MiB (the tiny model and its step need about 30 MiB), one of 176 does not.
        const string cap = "128MB";
        var env = new Dictionary<string, string> { [DeviceMemoryLimit.Variable] = cap };
        string small = TinyPretrain.Config(_root.Path, "tiny-mb2", _data, 2, 2, microBatch: 2, accumulation: 1);
        (int fits, CliProcess ok) = CliProcess.Run(TinyPretrain.Pretrain(small, Path.Combine(_root.Path, "under-the-cap")), env);
        using (ok) Assert.That(fits, Is.EqualTo(0), ok.Describe());

        string run = Path.Combine(_root.Path, "oom");
        string big = TinyPretrain.Config(_root.Path, "tiny-mb176", _data, 2, 2, microBatch: 176, accumulation: 1);
        (int exit, CliProcess oom) = CliProcess.Run(TinyPretrain.Pretrain(big, run), env);
        using (oom)
        {
            Assert.That(exit, Is.EqualTo(1), oom.Describe());
            string[] said = oom.Stderr.Split('\n').Where(l => l.StartsWith("mama pretrain:", StringComparison.Ordinal)).ToArray();
            Assert.That(said, Has.Length.EqualTo(1), oom.Describe());
            string line = said[0];
            Assert.That(line, Does.StartWith("mama pretrain: Out of memory on cpu"));
            Assert.That(line, Does.Contain("batch.micro_batch = 176"));
            Assert.That(line, Does.Contain("lower batch.micro_batch (e.g. to 88) and raise batch.accumulation"));
            Assert.That(line, Does.Contain("or set activation_checkpointing to true"));
            Assert.That(line, Does.Contain("(device memory limit 128.0 MiB, MAMA_DEVICE_MEMORY_LIMIT). Lower the micro-batch size, enable activation checkpointing or train in bf16."));
            // What was asked and what tensors held: together more than the cap.
            // The failing request can be small (the cap is reached a block at a time): it may read in KiB or B.
            var numbers = System.Text.RegularExpressions.Regex.Match(line, @"could not allocate ([0-9.]+) (MiB|KiB|B) with ([0-9.]+) MiB already held by tensors");
            Assert.That(numbers.Success, Is.True, line);
            double unit = numbers.Groups[2].Value switch { "MiB" => 1.0, "KiB" => 1.0 / 1024, _ => 1.0 / (1024 * 1024) };
            double requested = double.Parse(numbers.Groups[1].Value, CultureInfo.InvariantCulture) * unit;
            double held = double.Parse(numbers.Groups[3].Value, CultureInfo.InvariantCulture);
            Assert.That(requested, Is.GreaterThan(0));
            // (held is printed to 0.1 MiB: 127.54 MiB held and a 512 KiB request read "127.5" and "512.0 KiB")
            Assert.That(requested + held, Is.GreaterThan(128.0 - 0.05), line);
            TinyPretrain.AssertNoStackTrace(oom);
            TestContext.Out.WriteLine($"{DeviceMemoryLimit.Variable}={cap}: {line}");
        }
        Assert.That(TinyPretrain.CheckpointSteps(run), Is.Empty);
        Assert.That(Directory.Exists(Path.Combine(run, "final")), Is.False, "no model folder from a failed run");
    }
}
