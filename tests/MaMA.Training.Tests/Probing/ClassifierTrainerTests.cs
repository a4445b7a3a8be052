using MaMA.Data.Labels;
using MaMA.Training.Probing;
using MaMA.Training.Tests.Pretraining;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Tests.Probing;

public class ClassifierTrainerTests
{
    [Test]
    public void LinearProbeWritesClassifierAndMetrics()
    {
        string outDir = TestPaths.NewScratch("probe");
        try
        {
            var settings = new ClassifierSettings
            {
                Model = "tiny", Data = TinyRuns.DataDir, Task = DownstreamTask.Density, Steps = 4, WarmupSteps = 1, BatchSize = 8, Workers = 2, LogEvery = 2,
            };
            var trainer = new ClassifierTrainer(settings, Device.Cpu, _ => { }) { ProgressOutput = TextWriter.Null };
            ClassifierResult result = trainer.Train(outDir);
            Assert.That(result.Report!.ClassCount, Is.EqualTo(4));
            Assert.That(double.IsFinite(result.LastLoss), Is.True);
            foreach (string f in new[] { "classifier.safetensors", "metrics.json", "train.jsonl", "loss.png", "confusion.png", "roc.png" })
                Assert.That(File.Exists(Path.Combine(outDir, f)), Is.True, f);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ResumedClassifierRunReachesTheSameLossesAsAnUninterruptedOne(bool fineTune)
    {
        string whole = TestPaths.NewScratch("cls-whole"), parts = TestPaths.NewScratch("cls-parts");
        try
        {
            var settings = new ClassifierSettings
            {
                Model = "tiny", Data = TinyRuns.DataDir, Task = DownstreamTask.Density, FineTune = fineTune, Steps = 6, WarmupSteps = 1, BatchSize = 6,
                Workers = 2, LogEvery = 1, CheckpointEvery = 2, KeepLast = 2, Lr = 5e-2,
            };
            Run(settings, whole);
            // Killed after step 5: the newest checkpoint is step 4, step 5 runs again after the resume.
            Run(settings, parts, killAfter: 5);
            Assert.That(Directory.GetDirectories(Path.Combine(parts, "checkpoints")).Select(Path.GetFileName), Is.EquivalentTo(new[] { "step-000002", "step-000004" }));
            var messages = new List<string>();
            ClassifierResult resumed = Run(settings with { Resume = true }, parts, messages: messages);
            Assert.That(messages, Has.Some.Contains("resuming from").And.Some.Contains("step 4"));
            var a = MaMA.Training.Runs.MetricsLog.Read(Path.Combine(whole, "train.jsonl"));
            var b = MaMA.Training.Runs.MetricsLog.Read(Path.Combine(parts, "train.jsonl"));
            Assert.That(b.Select(l => l.Step), Is.EqualTo(a.Select(l => l.Step)));
            for (int i = 0; i < a.Count; i++) Assert.That(b[i]["loss"], Is.EqualTo(a[i]["loss"]), $"loss at step {a[i].Step}");
            Assert.That(File.ReadAllBytes(Path.Combine(parts, "classifier.safetensors")), Is.EqualTo(File.ReadAllBytes(Path.Combine(whole, "classifier.safetensors"))));
            Assert.That(resumed.Report, Is.Not.Null);
        }
        finally
        {
            Directory.Delete(whole, recursive: true);
            Directory.Delete(parts, recursive: true);
        }
    }

    /// <summary>
    /// Linear probing of whole images (crop scale min 1) trains on features computed once
    /// (ProbeFeatureCache): every loss and the head are bit for bit those of encoding each batch at
    /// its step, over more steps than the balanced epoch has batches (so epochs and repeated images
    /// are crossed), and a run killed and resumed with the cache still matches.
    /// </summary>
    [Test]
    public void ProbeOnFeaturesComputedOnceEqualsEncodingEveryStep()
    {
        string perStep = TestPaths.NewScratch("probe-per-step"), cached = TestPaths.NewScratch("probe-cached"), resumed = TestPaths.NewScratch("probe-cached-resumed");
        try
        {
            var settings = new ClassifierSettings
            {
                Model = "tiny", Data = TinyRuns.DataDir, Task = DownstreamTask.Density, CropScaleMin = 1.0, Steps = 9, WarmupSteps = 1, BatchSize = 7,
                Workers = 2, LogEvery = 1, CheckpointEvery = 3, KeepLast = 2, Lr = 5e-2,
            };
            var messages = new List<string>();
            new ClassifierTrainer(settings, Device.Cpu, _ => { }) { ProgressOutput = TextWriter.Null, UseFeatureCache = false }.Train(perStep);
            new ClassifierTrainer(settings, Device.Cpu, messages.Add) { ProgressOutput = TextWriter.Null }.Train(cached);
            Assert.That(messages, Has.Some.Contains("encoded once"), "crop scale min 1 takes the cache by default");
            Run(settings, resumed, killAfter: 7);
            Run(settings with { Resume = true }, resumed);

            var reference = MaMA.Training.Runs.MetricsLog.Read(Path.Combine(perStep, "train.jsonl"));
            Assert.That(reference.Select(l => l.Step), Is.EqualTo(Enumerable.Range(1, 9).Select(i => (long)i)));
            foreach (string run in new[] { cached, resumed })
            {
                var lines = MaMA.Training.Runs.MetricsLog.Read(Path.Combine(run, "train.jsonl"));
                Assert.That(lines.Select(l => l.Step), Is.EqualTo(reference.Select(l => l.Step)), run);
                for (int i = 0; i < reference.Count; i++) Assert.That(lines[i]["loss"], Is.EqualTo(reference[i]["loss"]), $"{run}: loss at step {reference[i].Step}");
                Assert.That(File.ReadAllBytes(Path.Combine(run, "classifier.safetensors")), Is.EqualTo(File.ReadAllBytes(Path.Combine(perStep, "classifier.safetensors"))), run);
            }
        }
        finally
        {
            foreach (string d in new[] { perStep, cached, resumed })
                if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
        }
    }

    [Test]
    public void AnUnfinishedRunNeedsResumeAndAFinishedOneIsReplaced()
    {
        string outDir = TestPaths.NewScratch("cls-again");
        try
        {
            var settings = new ClassifierSettings
            {
                Model = "tiny", Data = TinyRuns.DataDir, Steps = 3, WarmupSteps = 1, BatchSize = 6, Workers = 2, LogEvery = 1, CheckpointEvery = 1,
            };
            Run(settings, outDir, killAfter: 2);
            var e = Assert.Throws<InvalidOperationException>(() => Run(settings, outDir))!;
            Assert.That(e.Message, Does.Contain("unfinished run").And.Contain("--resume"));
            // Finished (resumed to the end): a new run may replace it.
            Assert.That(Run(settings with { Resume = true }, outDir).Report, Is.Not.Null);
            Assert.That(Run(settings, outDir).Report, Is.Not.Null);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Test]
    public void AResumeWithOtherRunSettingsIsRefusedBeforeAnythingChanges()
    {
        string outDir = TestPaths.NewScratch("cls-other");
        try
        {
            var settings = new ClassifierSettings
            {
                Model = "tiny", Data = TinyRuns.DataDir, Steps = 4, WarmupSteps = 1, BatchSize = 6, Workers = 2, LogEvery = 1, CheckpointEvery = 2,
            };
            Run(settings, outDir, killAfter: 3);
            byte[] log = File.ReadAllBytes(Path.Combine(outDir, "train.jsonl"));
            var e = Assert.Throws<InvalidOperationException>(() => Run(settings with { Resume = true, BatchSize = 4, Fraction = 0.5 }, outDir))!;
            Assert.That(e.Message, Does.Contain("--batch 6 -> 4").And.Contain("--fraction 1 -> 0.5").And.Contain("another --out"));
            Assert.That(File.ReadAllBytes(Path.Combine(outDir, "train.jsonl")), Is.EqualTo(log), "the refused resume left the log alone");
            Assert.That(File.Exists(Path.Combine(outDir, "metrics.json")), Is.False);
            // Workers, logging and the checkpoint cadence do not change what the run computes.
            var messages = new List<string>();
            Assert.That(Run(settings with { Resume = true, Workers = 1, LogEvery = 2, CheckpointEvery = 3 }, outDir, messages: messages).Report, Is.Not.Null);
            Assert.That(messages, Has.Some.Contains("resuming from"));
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    /// <summary>
    /// RSNA-Mammo cancer: 2 classes, trained on the training split of the patient-level split drawn
    /// with the split seed (not the training seed) and scored on the whole test split: exactly the
    /// images and labels <c>mama zeroshot --task rsna --split test --split-seed S</c> scores,
    /// unbalanced, with the binary metrics. Fine-tuning reads the same folder.
    /// </summary>
    [TestCase(false, 0UL, 0UL)]
    [TestCase(false, 5UL, 0UL)]
    [TestCase(false, 0UL, 3UL)]
    [TestCase(true, 0UL, 0UL)]
    public void RsnaCancerTrainsOnTheTrainSplitAndScoresTheWholeTestSplit(bool fineTune, ulong seed, ulong splitSeed)
    {
        string rsna = RsnaFolder(), outDir = TestPaths.NewScratch("probe-rsna");
        try
        {
            var settings = new ClassifierSettings
            {
                Model = "tiny", Data = rsna, Task = DownstreamTask.Rsna, FineTune = fineTune, Seed = seed, SplitSeed = splitSeed, Steps = 3, WarmupSteps = 1, BatchSize = 6,
                Workers = 2, LogEvery = 1,
            };
            var messages = new List<string>();
            ClassifierResult result = Run(settings, outDir, messages: messages);

            var expected = MaMA.Evaluation.ZeroShot.ZeroShotSelection.FromRsna(rsna, MaMA.Data.Splits.DataSplit.Test, balanced: false, splitSeed: splitSeed).Samples;
            MaMA.Evaluation.Metrics.MetricsReport report = result.Report!;
            Assert.That(report.ClassCount, Is.EqualTo(2));
            Assert.That(report.Count, Is.EqualTo(expected.Count));
            Assert.That(report.ConfusionMatrix.Support(1), Is.EqualTo(expected.Count(s => s.Label == 1)));
            Assert.That(report.ConfusionMatrix.Support(0), Is.EqualTo(expected.Count(s => s.Label == 0)));
            Assert.That(report.ConfusionMatrix.Support(0), Is.Not.EqualTo(report.ConfusionMatrix.Support(1)), "the test split is not balanced");
            Assert.That(report.Binary, Is.Not.Null);
            Assert.That(File.ReadAllText(Path.Combine(outDir, "metrics.json")), Does.Contain("\"pf1\""));
            Assert.That(messages, Has.Some.Contains($"test split of a patient-level 70/10/20 split with split seed {splitSeed}"));
            int train = MaMA.Evaluation.ZeroShot.ZeroShotSelection.FromRsna(rsna, MaMA.Data.Splits.DataSplit.Train, balanced: false, splitSeed: splitSeed).Samples.Count;
            Assert.That(messages, Has.Some.Contains($"rsna (2 classes): {train} training images"));
            using var classifier = MaMA.Engine.Serialization.Safetensors.Open(Path.Combine(outDir, "classifier.safetensors"));
            Assert.That(classifier.Metadata["task"], Is.EqualTo("rsna"));
        }
        finally
        {
            Directory.Delete(rsna, recursive: true);
            Directory.Delete(outDir, recursive: true);
        }
    }

    /// <summary>Training images of one class cannot make a classifier: refused before the model is built, the finished run in the folder kept.</summary>
    [Test]
    public void ATrainingSplitOfOneClassIsRefusedAndThePreviousRunKept()
    {
        string rsna = RsnaFolder(cancer: _ => false), outDir = TestPaths.NewScratch("probe-rsna-one");
        try
        {
            var settings = new ClassifierSettings { Model = "tiny", Data = TinyRuns.DataDir, Steps = 2, WarmupSteps = 1, BatchSize = 6, Workers = 2, LogEvery = 1 };
            Run(settings, outDir);
            byte[] finished = File.ReadAllBytes(Path.Combine(outDir, "metrics.json"));
            var e = Assert.Throws<InvalidOperationException>(() => Run(settings with { Data = rsna, Task = DownstreamTask.Rsna }, outDir))!;
            Assert.That(e.Message, Does.Contain("one class only").And.Contain("cancer 0"));
            Assert.That(File.ReadAllBytes(Path.Combine(outDir, "metrics.json")), Is.EqualTo(finished), "the refused run left the finished one alone");
        }
        finally
        {
            Directory.Delete(rsna, recursive: true);
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Test]
    public void RsnaNeedsItsFolder()
    {
        var e = Assert.Throws<ArgumentException>(() => new ClassifierSettings { Task = DownstreamTask.Rsna }.Validate())!;
        Assert.That(e.Message, Does.Contain("--data").And.Contain("RSNA-Mammo"));
        string outDir = TestPaths.NewScratch("probe-rsna-embed");
        try
        {
            // An EMBED folder is not an RSNA one: the error names the missing table.
            var wrong = new ClassifierSettings { Model = "tiny", Data = TinyRuns.DataDir, Task = DownstreamTask.Rsna, Steps = 1, WarmupSteps = 0, BatchSize = 4, Workers = 1 };
            Assert.That(() => Run(wrong, outDir), Throws.InstanceOf<IOException>().With.Message.Contains("train.csv"));
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    /// <summary>
    /// An RSNA-Mammo folder (train.csv, train_images/{patient}/{image}.png) over the tiny synthetic
    /// images: one patient per synthetic patient, cancer on every third image, so both classes are in
    /// every split and the test split is not balanced.
    /// </summary>
    private static string RsnaFolder(Func<int, bool>? cancer = null)
    {
        cancer ??= i => i % 3 == 0;
        string dir = TestPaths.NewScratch("rsna");
        var records = MaMA.Data.Embed.EmbedDataset.Load(TinyRuns.DataDir).Records;
        var patients = records.Select(r => r.Patient).Distinct().ToList();
        var lines = new List<string> { "patient_id,image_id,laterality,view,cancer" };
        for (int i = 0; i < records.Count; i++)
        {
            string patient = (10 + patients.IndexOf(records[i].Patient)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string image = (1000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Directory.CreateDirectory(Path.Combine(dir, "train_images", patient));
            File.Copy(records[i].Path, Path.Combine(dir, "train_images", patient, image + ".png"));
            lines.Add($"{patient},{image},{records[i].Laterality},{records[i].View},{(cancer(i) ? 1 : 0)}");
        }
        File.WriteAllLines(Path.Combine(dir, "train.csv"), lines);
        return dir;
    }

    private static ClassifierResult Run(ClassifierSettings settings, string outDir, long? killAfter = null, List<string>? messages = null) =>
        new ClassifierTrainer(settings, Device.Cpu, m => messages?.Add(m)) { ProgressOutput = TextWriter.Null, KillAfterStep = killAfter }.Train(outDir);
}
