using MaMA.Data.Labels;
using MaMA.Data.Splits;
using MaMA.Data.Synthetic;
using MaMA.Evaluation.ZeroShot;
using MaMA.Model.Checkpoints;
using MaMA.Training.Config;
using MaMA.Training.Pretraining;
using MaMA.Training.Probing;
using MaMA.Training.Runs;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Demo;

/// <summary>
/// <c>mama demo</c>, the main job on built-in data, phase by phase:
/// <list type="number">
/// <item>synthetic phantom dataset (<see cref="SyntheticEmbed"/>) in <c>DIR/data</c>;</item>
/// <item>MaMA pre-training from scratch with every loss term (<see cref="Pretrainer"/>, run folder
/// <c>DIR/pretrain</c> with metrics.jsonl and loss.png);</item>
/// <item>zero-shot density and BI-RADS with instance prompts and the learned logit scale
/// (<see cref="ZeroShotClassifier"/>) on the class-balanced test split, into <c>DIR/zeroshot-TASK</c>;</item>
/// <item>linear probes of the frozen ViT for BI-RADS and density (<see cref="LinearProbe"/>) on the
/// training split, scored on the same class-balanced test split, into <c>DIR/probe-TASK</c>;</item>
/// <item><c>DIR/report.json</c> (<see cref="DemoReport"/>) and a short summary.</item>
/// </list>
/// Every phase is seeded by <see cref="DemoSettings.Seed"/>; on the CPU the run is deterministic.
/// The demo owns these names inside DIR and replaces them on each run; nothing else there is touched.
/// </summary>
public sealed class DemoPipeline
{
    private static readonly string[] OwnedFolders = ["data", "pretrain", "zeroshot-density", "zeroshot-birads", "probe-birads", "probe-density"];

    private readonly DemoSettings _settings;
    private readonly Device _device;
    private readonly TextWriter _out;

    public DemoPipeline(DemoSettings settings, Device device, TextWriter? output = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _settings = settings;
        _device = device;
        _out = output ?? Console.Out;
    }

    /// <summary>Runs every phase into <paramref name="outDir"/> and returns what report.json holds.</summary>
    public DemoResult Run(string outDir)
    {
        string root = Path.GetFullPath(outDir);
        Directory.CreateDirectory(root);
        foreach (string owned in OwnedFolders)
            if (Directory.Exists(Path.Combine(root, owned))) Directory.Delete(Path.Combine(root, owned), recursive: true);
        var times = new PhaseTimes();
        string dataDir = Path.Combine(root, "data");
        string runDir = Path.Combine(root, "pretrain");

        Say($"[1/5] synthetic data: {_settings.Studies} studies, {_settings.Width}x{_settings.Width * 5 / 4} px -> {dataDir}");
        SynthSummary synth = times.Measure("synthetic data", () => WriteData(dataDir));
        CheckSplitsHoldLabels(dataDir);

        Say($"[2/5] pre-training MaMA ({Describe(_settings.Model)}) for {_settings.Steps} steps of {_settings.MicroBatch} pairs, " +
            $"every loss term from step {_settings.Model.LateLossStep} -> {runDir}");
        (PretrainResult pretrain, TrainingConfig config) = times.Measure("pre-training", () => Pretrain(root, dataDir, runDir));
        if (pretrain.StopMessage is { } stop) throw new InvalidOperationException($"pre-training stopped: {stop}");
        string modelDir = Path.Combine(runDir, "final");

        Say("[3/5] zero-shot classification (instance prompts) on the class-balanced test split");
        EvaluationModel evaluation = EvaluationModel.Load(modelDir, _device);
        DemoEvaluation zsDensity = times.Measure("zero-shot density", () => ZeroShot(evaluation, DownstreamTask.Density, dataDir, root));
        DemoEvaluation zsBirads = times.Measure("zero-shot BI-RADS", () => ZeroShot(evaluation, DownstreamTask.Birads, dataDir, root));

        Say("[4/5] linear probes of the frozen ViT (class-balanced training batches, class-balanced test split)");
        DemoEvaluation probeBirads = times.Measure("linear probe BI-RADS", () => Probe(DownstreamTask.Birads, runDir, dataDir, root));
        DemoEvaluation probeDensity = times.Measure("linear probe density", () => Probe(DownstreamTask.Density, runDir, dataDir, root));

        Say("[5/5] report");
        var result = new DemoResult(root, _settings, _device, synth, config, pretrain, evaluation.Model.ParameterCount,
            [zsDensity, zsBirads, probeBirads, probeDensity], times);
        DemoReport.Write(result, Path.Combine(root, DemoReport.FileName));
        return result;
    }

    private SynthSummary WriteData(string dataDir)
    {
        // The bar counts per mille: the image count (a few studies add cview rows) is known only once writing starts.
        const int total = 1000;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        return ProgressReporter.Run("synthetic data", total, 0, progress =>
            SyntheticEmbed.Write(dataDir, new SynthOptions
            {
                Studies = _settings.Studies,
                Seed = unchecked((int)_settings.Seed),
                Width = _settings.Width,
                Height = _settings.Width * 5 / 4,
                Force = true,
                Progress = (done, all) => progress.Update(
                    (long)done * total / Math.Max(1, all), $"{done}/{all} images", done / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)),
            }), plainEvery: total / 4);
    }

    /// <summary>
    /// Before minutes of pre-training: the probes train on labelled images of the training split and
    /// every evaluation scores labelled images of the test split. The split is by patient, so the
    /// smallest --studies can leave one of them without a density label for some seeds.
    /// The splits file written here is the one pre-training and the evaluations read (same seed).
    /// </summary>
    private void CheckSplitsHoldLabels(string dataDir)
    {
        var data = MaMA.Data.Embed.EmbedDataset.Load(dataDir);
        PatientSplits splits = data.LoadOrCreateSplits(seed: _settings.Seed);
        foreach (DataSplit split in new[] { DataSplit.Train, DataSplit.Test })
        {
            // Every usable image has a BI-RADS label; a density label it may lack.
            if (!data.InSplit(splits, split).Any(r => r.DensityLabel is not null))
                throw new InvalidOperationException(
                    $"{_settings.Studies} synthetic studies with seed {_settings.Seed} leave the {split.Name()} split without an image with a density label; " +
                    "use more --studies (or another --seed).");
        }
    }

    private (PretrainResult, TrainingConfig) Pretrain(string root, string dataDir, string runDir)
    {
        // Pre-training takes a model by config file: the demo's preset goes next to the run.
        string modelConfig = Path.Combine(root, "pretrain-model.json");
        ModelConfigFile.ForMaMA(_settings.Model).Save(modelConfig);
        var config = new TrainingConfig
        {
            Model = modelConfig,
            Data = dataDir,
            SplitSeed = _settings.Seed,
            Device = _device.Spec,
            Seed = _settings.Seed,
            Optimizer = new OptimizerSettings { Lr = _settings.Lr, WeightDecay = 0.1 },
            Schedule = new ScheduleSettings { WarmupSteps = _settings.WarmupSteps, MaxSteps = _settings.Steps, MinLr = _settings.MinLr },
            Batch = new BatchSettings { MicroBatch = _settings.MicroBatch, Accumulation = 1 },
            // The engine trains in fp32 on the CPU anyway; saying so avoids a note about bf16.
            Precision = Precision.Fp32,
            ActivationCheckpointing = false,
            GradClip = 1.0,
            CropScaleMin = _settings.CropScaleMin,
            Workers = _settings.Workers,
            CheckpointEvery = (int)Math.Min(int.MaxValue, _settings.Steps),
            KeepLast = 1,
            LogEvery = _settings.LogEvery,
        };
        var trainer = new Pretrainer(config, runDir, resume: false, _device, Say);
        return (trainer.Train(), config);
    }

    private DemoEvaluation ZeroShot(EvaluationModel model, DownstreamTask task, string dataDir, string root)
    {
        ZeroShotSelection selection = ZeroShotSelection.FromEmbed(dataDir, task, DataSplit.Test, balanced: true, _settings.Seed);
        Say($"zero-shot {task.Name()}: {selection.Description}");
        if (selection.Samples.Count == 0) throw new InvalidOperationException($"{dataDir}: no test image with a {task.Name()} label; raise the number of studies.");
        var classifier = new ZeroShotClassifier(model, task);
        ZeroShotResult result = ProgressReporter.Run($"zero-shot {task.Name()}", selection.Samples.Count, 0, progress =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            return classifier.Classify(selection.Samples, _settings.EvalBatch, (done, total) =>
                progress.Update(done, $"{done}/{total} images", done / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)));
        }, plainEvery: _settings.EvalBatch);
        if (result.Failed.Count > 0) throw new InvalidDataException($"{result.Failed.Count} synthetic test images could not be read, e.g. {result.Failed[0].Path}: {result.Failed[0].Reason}");
        ZeroShotOutputs written = ZeroShotOutputs.Write(result, Path.Combine(root, $"zeroshot-{task.Name()}"));
        string title = task == DownstreamTask.Density ? "zero-shot density" : "zero-shot BI-RADS";
        return new DemoEvaluation($"zero_shot_{task.Name()}", title, task.Name(), task.ClassNames(), written.Report, written.Directory);
    }

    private DemoEvaluation Probe(DownstreamTask task, string runDir, string dataDir, string root)
    {
        string name = task.Name();
        var settings = new ClassifierSettings
        {
            Model = runDir,
            Data = dataDir,
            Task = task,
            Steps = _settings.ProbeSteps,
            WarmupSteps = Math.Min(100, _settings.ProbeSteps / 10),
            Lr = _settings.ProbeLr,
            MinLr = _settings.ProbeLr / 100,
            BatchSize = _settings.ProbeBatch,
            CropScaleMin = _settings.ProbeCropScaleMin,
            Seed = _settings.Seed,
            Workers = _settings.Workers,
            LogEvery = _settings.LogEvery,
        };
        ClassifierResult result = LinearProbe.Run(settings, Path.Combine(root, $"probe-{name}"), _device, Say);
        string title = task == DownstreamTask.Birads ? "linear probe BI-RADS" : "linear probe density";
        var report = result.Report ?? throw new InvalidOperationException($"the {title} ended without a test score ({result.OutputDir}).");
        return new DemoEvaluation($"linear_probe_{name}", title, name, settings.ClassNames, report, result.OutputDir);
    }

    private static string Describe(MaMA.Model.MaMA.MaMAConfig m) =>
        $"ViT {m.Vision.ImageSize}px C{m.Vision.EmbedDim} x{m.Vision.Depth}, GPT-2 C{m.Text.NEmbd} x{m.Text.NLayer} + LoRA, E {m.EmbedDim}";

    private void Say(string message)
    {
        _out.WriteLine(message);
        _out.Flush();
    }
}
