using System.Diagnostics;
using MaMA.Data.Embed;
using MaMA.Data.Images.Transforms;
using MaMA.Data.Labels;
using MaMA.Data.Loading;
using MaMA.Data.Reports;
using MaMA.Data.Splits;
using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.Metrics;
using MaMA.Evaluation.Plots;
using MaMA.Model.MaMA;
using MaMA.Training.Checkpoints;
using MaMA.Training.Data;
using MaMA.Training.Pretraining;
using MaMA.Training.Runs;
using MaMA.Training.Schedules;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Probing;

/// <summary>
/// The loop shared by <see cref="LinearProbe"/> and <see cref="FineTuner"/>: a Linear(C -> classes)
/// head on the ViT's pooled feature [B, C], trained with cross-entropy on class-balanced batches,
/// then scored on the task's test images (<see cref="ClassifierData"/>). Writes into the output folder:
/// <c>classifier.safetensors</c> (the head as <c>head.*</c>; fine-tuning adds the ViT under its MaMA
/// keys), <c>train.jsonl</c> (loss, lr per log step), <c>loss.png</c>, <c>metrics.json</c>
/// (MaMA.Evaluation's report), <c>confusion.png</c> and <c>roc.png</c>, and while it trains
/// <c>checkpoints/step-NNNNNN/</c> every <see cref="ClassifierSettings.CheckpointEvery"/> steps (the
/// pre-training <see cref="CheckpointStore"/>: trained weights, SGD momentum, data position, and the
/// frozen MaMA weights by checksum only), from which <see cref="ClassifierSettings.Resume"/> continues.
/// </summary>
public sealed class ClassifierTrainer
{
    private readonly ClassifierSettings _settings;
    private readonly Device _device;
    private readonly Action<string> _say;

    public ClassifierTrainer(ClassifierSettings settings, Device device, Action<string>? say = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _settings = settings;
        _device = device;
        _say = say ?? (m => Console.Error.WriteLine(m));
    }

    /// <summary>Tests: plain progress lines go here instead of the console.</summary>
    internal TextWriter? ProgressOutput { get; init; }

    public ClassifierResult Train(string outDir)
    {
        string output = Path.GetFullPath(outDir);
        using RunLock runLock = RunLock.Acquire(output);
        var store = new CheckpointStore(Path.Combine(output, "checkpoints"), _settings.KeepLast, m => _say("warning: " + m));
        // metrics.json is written last and removed when a run starts: present, the folder's run finished.
        string metricsJson = Path.Combine(output, "metrics.json");
        if (!_settings.Resume && store.List().Count > 0 && !File.Exists(metricsJson))
            throw new InvalidOperationException($"{output} holds checkpoints of an unfinished run: pass --resume to continue it, or choose another --out.");
        // Cheap checks first: the model's config, then the data (which may write the synthetic set),
        // and only then the build, which at the paper's size draws 2.7 B weights.
        string modelSpec = MaMA.Model.Checkpoints.ModelDirectory.Resolve(_settings.Model); // a run folder: its final model
        ModelSource.Resolved source = ModelSource.Resolve(modelSpec, activationCheckpointing: false);
        ClassifierData data = OpenData(output);
        IReadOnlyList<LabelledImage> train = Fraction(data.Train);
        IReadOnlyList<LabelledImage> balancedEpoch = BalancedEpoch(train);
        IReadOnlyList<LabelledImage> test = data.Test;
        CheckClasses(data.Directory, train, test);
        if (!_settings.Resume)
        {
            // Only now that this run can start does it replace a finished run's results in the folder.
            if (Directory.Exists(store.Root)) Directory.Delete(store.Root, recursive: true);
            File.Delete(metricsJson);
        }
        MaMAModel model = ModelSource.Build(source, _settings.Seed, _device);
        int batch = Math.Min(_settings.BatchSize, balancedEpoch.Count);
        int side = source.Config.Vision.ImageSize;
        var transform = new MammoTransformOptions { ImageSize = side, CropSize = side };
        MammoTransformOptions trainTransform = TrainTransform(transform, _settings.CropScaleMin);
        var loaderOptions = new LoaderOptions { BatchSize = batch, Seed = _settings.Seed, Workers = _settings.Workers, Transform = trainTransform };
        var loader = new LabelledImageLoader(balancedEpoch, loaderOptions);

        var vit = model.ImageEncoder;
        int channels = source.Config.Vision.EmbedDim;
        var head = new Linear(channels, _settings.Classes, new Random(unchecked((int)_settings.Seed) + 1), device: _device);
        // Trained parameters under their classifier.safetensors names (head.*, img_encoder_q.model.* when fine-tuning).
        var trained = head.NamedParameters().Select(np => ("head." + np.Name, np.Parameter)).ToList();
        if (_settings.FineTune) trained.AddRange(vit.Model.NamedParameters().Where(np => !np.Parameter.IsFrozen).Select(np => ("img_encoder_q.model." + np.Name, np.Parameter)));
        else foreach (Parameter p in model.Parameters()) p.Freeze();
        List<Parameter> parameters = trained.Select(t => t.Item2).ToList();
        model.Eval();
        var optimizer = new SgdMomentum([new ParamGroup(parameters, _settings.Lr, _settings.WeightDecay)], _settings.Momentum);
        var schedule = new WarmupCosineSchedule(_settings.Lr, _settings.MinLr, _settings.WarmupSteps, _settings.Steps);
        string mode = _settings.FineTune ? "fine-tuning" : "linear probing";
        FrozenBase frozen = DescribeBase(model, source, modelSpec, trained.Select(t => t.Item1).ToHashSet(StringComparer.Ordinal));

        long start = 0;
        var position = new Checkpoints.DataPosition(0, 0);
        if (_settings.Resume)
        {
            if (store.LoadNewest() is { } checkpoint)
            {
                checkpoint.State.FrozenBase?.CheckSameAs(frozen, checkpoint.Folder);
                CheckSameSettings(checkpoint.State, checkpoint.Folder);
                LoadTrained(checkpoint.ModelPath, head, vit.Model);
                OptimizerStateFile.Load(optimizer, trained, checkpoint.OptimizerPath, "classifier");
                start = checkpoint.State.Step;
                position = checkpoint.State.Data;
                _say($"resuming from {checkpoint.Folder} (step {start})");
            }
            else
            {
                _say($"no checkpoint in {store.Root}: starting from step 0");
            }
        }
        _say($"{mode} {_settings.Task.Name()} ({_settings.Classes} classes): {train.Count} training images ({_settings.Fraction:P0} of the split, " +
             $"balanced epoch of {balancedEpoch.Count}); scored on {data.TestDescription}; {parameters.Sum(p => p.Numel):N0} trained parameters; device {_device.Name}");

        var clock = Stopwatch.StartNew();
        // Linear probing of whole images: each image's feature is the same at every step, so it is computed once.
        ProbeFeatureCache? cache = null;
        if (!_settings.FineTune && (UseFeatureCache ?? _settings.CropScaleMin >= 1.0))
        {
            cache = ProbeFeatureCache.Build(model, balancedEpoch, loaderOptions, _device);
            _say($"features of the frozen ViT: {cache.Images} distinct training images encoded once ({clock.Elapsed.TotalSeconds:F1} s); the steps train the head on them");
        }
        string metricsPath = Path.Combine(output, "train.jsonl");
        double lastLoss = double.NaN;
        using (var log = new MetricsLog(metricsPath, _settings.Resume ? start : null))
        using (var stream = cache is null ? new BatchStream<ImageBatch>(loader, position, "lower --batch or use more data") : null)
        {
            BatchIndexStream? indices = cache is null ? null : new BatchIndexStream(loader, position);
            ProgressReporter.Run(mode, _settings.Steps, start, progress =>
            {
                for (long s = start; s < _settings.Steps; s++)
                {
                    var stepClock = Stopwatch.StartNew();
                    double lr = schedule.At(s);
                    optimizer.SetLearningRate(lr);
                    optimizer.ZeroGrad();
                    Tensor features;
                    long[] labels;
                    if (cache is null)
                    {
                        ImageBatch b = stream!.Next();
                        using Tensor pixels = b.PixelsTensor(_device);
                        features = Features(model, pixels);
                        labels = b.Labels.Select(l => (long)l).ToArray();
                    }
                    else
                    {
                        int[] rows = indices!.Next();
                        features = cache.Gather(rows, _device);
                        labels = rows.Select(i => (long)balancedEpoch[i].Label).ToArray();
                    }
                    Tensor loss = Ops.CrossEntropy(head.Forward(features), labels); // host labels: one upload, no read-back
                    loss.Backward();
                    optimizer.Step();
                    lastLoss = loss.Item();
                    long done = s + 1;
                    double perSecond = labels.Length / Math.Max(stepClock.Elapsed.TotalSeconds, 1e-9);
                    if (done % _settings.LogEvery == 0 || done == _settings.Steps)
                        log.Append(done, "train", [new("loss", lastLoss), new("lr", lr), new("images_per_s", perSecond)]);
                    progress.Update(done, $"loss {lastLoss:F4}", perSecond);
                    if (KillAfterStep is { } kill && done >= kill) return done;
                    if (done % _settings.CheckpointEvery == 0 && done < _settings.Steps)
                        store.Save(new TrainingCheckpoint { Step = done, Data = stream?.Position ?? indices!.Position, LearningRate = lr, FrozenBase = frozen, Extra = _settings.RunDefining() },
                            Weights(head, vit.Model), OptimizerStateFile.ToNamed(optimizer, trained, "classifier"));
                }
                return _settings.Steps;
            }, plainEvery: _settings.LogEvery, plain: ProgressOutput);
        }
        if (KillAfterStep is { } k && k < _settings.Steps) return new ClassifierResult(null, lastLoss, clock.Elapsed, output);
        LossCurvePlot.FromMetricsJsonl(metricsPath, Path.Combine(output, "loss.png"));

        Safetensors.Write(Path.Combine(output, "classifier.safetensors"), Weights(head, vit.Model), new Dictionary<string, string>
        {
            ["task"] = _settings.Task.Name(), ["mode"] = _settings.FineTune ? "finetune" : "probe", ["model"] = _settings.Model,
        });

        (MetricsReport report, ScoreTable scores) = Evaluate(model, head, test, transform);
        report.WriteJson(Path.Combine(output, "metrics.json"));
        ConfusionMatrixPlot.Save(report.ConfusionMatrix, Path.Combine(output, "confusion.png"), _settings.ClassNames);
        RocPlot.Save(scores, Path.Combine(output, "roc.png"), _settings.ClassNames, $"ROC, {_settings.Task.Name()}{(_settings.Classes > 2 ? " (one vs rest)" : "")}");
        return new ClassifierResult(report, lastLoss, clock.Elapsed, output);
    }

    /// <summary>
    /// The training images' transform: the evaluation one with a random crop of at least
    /// <paramref name="cropScaleMin"/> of the area. At 1 the aspect ratio is pinned to 1 as well, so
    /// the crop is the whole (square) image: the training view equals the evaluation view.
    /// </summary>
    internal static MammoTransformOptions TrainTransform(MammoTransformOptions eval, double cropScaleMin) => eval with
    {
        ScaleMin = cropScaleMin,
        RatioMin = cropScaleMin >= 1.0 ? 1.0 : eval.RatioMin,
        RatioMax = cropScaleMin >= 1.0 ? 1.0 : eval.RatioMax,
    };

    /// <summary>Tests: after this many completed steps the run ends as if killed (no final files).</summary>
    internal long? KillAfterStep { get; init; }

    /// <summary>
    /// Tests: whether the head trains on features computed once (<see cref="ProbeFeatureCache"/>);
    /// null (the default) does so for linear probing of whole images (crop scale min 1), where the
    /// feature of an image cannot change between steps.
    /// </summary>
    internal bool? UseFeatureCache { get; init; }

    /// <summary>The trained weights: the head as head.*, and when fine-tuning the ViT under its MaMA keys.</summary>
    private Dictionary<string, Tensor> Weights(Linear head, Module vit)
    {
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string name, Tensor t) in head.StateDict()) weights["head." + name] = t;
        if (_settings.FineTune)
            foreach ((string name, Tensor t) in vit.StateDict()) weights["img_encoder_q.model." + name] = t;
        return weights;
    }

    /// <summary>Loads a checkpoint's weights into the head (and the ViT); the file must hold exactly the names <see cref="Weights"/> gives.</summary>
    /// <summary>
    /// Refuses a resume whose run-defining settings differ from those the checkpoint recorded
    /// (<see cref="ClassifierSettings.RunDefining"/>), before anything is loaded or overwritten.
    /// </summary>
    private void CheckSameSettings(TrainingCheckpoint state, string folder)
    {
        IReadOnlyList<string>? changed = _settings.ChangedSince(state.Extra);
        if (changed is null)
        {
            _say($"warning: {folder} records no settings (written by an older build): resume with the options the run started with");
            return;
        }
        if (changed.Count > 0)
            throw new InvalidOperationException(
                $"{folder} belongs to a run with other settings ({string.Join(", ", changed)}). " +
                "Resume with the options the run started with, or start a new run in another --out.");
    }

    private void LoadTrained(string path, Linear head, Module vit)
    {
        var expected = Weights(head, vit).Keys.ToHashSet(StringComparer.Ordinal);
        using SafetensorsFile file = Safetensors.Open(path);
        var names = file.Names.ToHashSet(StringComparer.Ordinal);
        if (!names.SetEquals(expected))
            throw new InvalidDataException($"{path}: its tensors ({string.Join(", ", names.Except(expected).Take(3).DefaultIfEmpty("-"))} extra, " +
                                           $"{string.Join(", ", expected.Except(names).Take(3).DefaultIfEmpty("-"))} missing) are not the ones this classifier trains (another task or mode?).");
        var loaded = names.ToDictionary(n => n, n => file.Load(n), StringComparer.Ordinal);
        try
        {
            head.LoadStateDict(Strip(loaded, "head."));
            if (_settings.FineTune) vit.LoadStateDict(Strip(loaded, "img_encoder_q.model."));
        }
        finally
        {
            foreach (Tensor t in loaded.Values) t.Dispose();
        }
    }

    private static Dictionary<string, Tensor> Strip(Dictionary<string, Tensor> all, string prefix) =>
        all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);

    /// <summary>The MaMA weights this classifier does not train (all but the head, or all but the ViT's trained ones).</summary>
    private static FrozenBase DescribeBase(MaMAModel model, ModelSource.Resolved source, string modelSpec, IReadOnlySet<string> trained)
    {
        var frozen = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string name, Tensor t) in model.StateDict())
            if (!trained.Contains(name)) frozen[name] = t;
        return FrozenBase.Of(modelSpec, source.WeightsDirectory, frozen);
    }

    /// <summary>
    /// Refuses a run that cannot learn or cannot be scored: no training or test image, or training
    /// images of one class only (an RSNA split without cancer, a tiny --fraction). Classes missing
    /// from one side are a warning: small EMBED sets lack the rare BI-RADS classes, and the metrics
    /// then average the classes present (docs/evaluation.md).
    /// </summary>
    private void CheckClasses(string directory, IReadOnlyList<LabelledImage> train, IReadOnlyList<LabelledImage> test)
    {
        string Counts(IReadOnlyList<LabelledImage> images) =>
            string.Join(", ", Enumerable.Range(0, _settings.Classes).Select(c => $"{_settings.ClassNames[c]} {images.Count(i => i.Label == c)}"));
        string what = $"{_settings.Task.Name()} in {directory}";
        if (train.Count == 0 || test.Count == 0)
            throw new InvalidOperationException($"{what}: {train.Count} training and {test.Count} test images with a label; need at least one of each.");
        if (train.Select(i => i.Label).Distinct().Count() < 2)
            throw new InvalidOperationException($"{what}: the training images ({Counts(train)}) hold one class only; a classifier needs two. " +
                                                "Use more data, a larger --fraction or another --split-seed.");
        foreach ((string side, IReadOnlyList<LabelledImage> images) in new[] { ("training", train), ("test", test) })
        {
            int[] absent = Enumerable.Range(0, _settings.Classes).Where(c => images.All(i => i.Label != c)).ToArray();
            if (absent.Length > 0)
                _say($"warning: no {side} image of class {string.Join(", ", absent.Select(c => _settings.ClassNames[c]))} ({Counts(images)})");
        }
    }

    /// <summary>
    /// The task's images: RSNA-Mammo from --data; EMBED from --data, else the pre-training run's
    /// data, else the synthetic dataset written into <c>OUT/synthetic</c>.
    /// </summary>
    private ClassifierData OpenData(string output)
    {
        if (_settings.Task == DownstreamTask.Rsna) return ClassifierData.FromRsna(_settings.Data!, _settings.SplitSeed, _say);
        string? dataDir = _settings.Data ?? RunData(_settings.Model);
        if (_settings.Data is null && dataDir is not null) _say($"data: {dataDir} (the pre-training run's; --data overrides)");
        TrainingData data = TrainingData.Open(dataDir, Path.Combine(output, "synthetic"), _settings.SyntheticStudies, _settings.SyntheticWidth, _settings.Seed, _settings.SplitSeed, _say);
        return ClassifierData.FromEmbed(data, _settings.Task, _settings.Seed);
    }

    /// <summary>A pre-training run folder's data: its config's data folder, or its synthetic dataset.</summary>
    private static string? RunData(string model)
    {
        string config = Path.Combine(model, "config.json");
        if (!Directory.Exists(model) || File.Exists(Path.Combine(model, "model.safetensors")) || !File.Exists(config)) return null;
        try
        {
            if (Config.TrainingConfigFile.Load(config).Data is { } data) return data;
        }
        catch (InvalidDataException)
        {
            return null;
        }
        string synthetic = Path.Combine(model, "synthetic");
        return Directory.Exists(synthetic) ? synthetic : null;
    }

    /// <summary>Pooled ViT feature [B, C]; recorded only when fine-tuning.</summary>
    private Tensor Features(MaMAModel model, Tensor pixels)
    {
        if (_settings.FineTune) return model.ImageEncoder.Encode(pixels).Pooled;
        using IDisposable _ = GradMode.NoGrad();
        return model.ImageEncoder.Encode(pixels).Pooled.Detach();
    }

    private (MetricsReport Report, ScoreTable Scores) Evaluate(MaMAModel model, Linear head, IReadOnlyList<LabelledImage> test, MammoTransformOptions transform)
    {
        var loader = new LabelledImageLoader(test, new LoaderOptions
        {
            BatchSize = Math.Min(_settings.BatchSize, test.Count), Training = false, Workers = _settings.Workers, Transform = transform,
        });
        var probabilities = new double[test.Count, _settings.Classes];
        var labels = new int[test.Count];
        int row = 0;
        using IDisposable _ = GradMode.NoGrad();
        foreach (ImageBatch b in loader.Epoch(0))
        {
            using Tensor pixels = b.PixelsTensor(_device);
            float[] p = Ops.Softmax(head.Forward(model.ImageEncoder.Encode(pixels).Pooled)).ToFloatArray();
            for (int i = 0; i < b.Count; i++, row++)
            {
                labels[row] = b.Labels[i];
                for (int c = 0; c < _settings.Classes; c++) probabilities[row, c] = p[i * _settings.Classes + c];
            }
        }
        ScoreTable scores = ScoreTable.FromProbabilities(probabilities, labels);
        return (ClassificationMetrics.Compute(scores), scores);
    }

    private IReadOnlyList<LabelledImage> Fraction(IReadOnlyList<LabelledImage> records)
    {
        if (_settings.Fraction >= 1.0) return records;
        var shuffled = records.ToList();
        new SeededRandom(SeededRandom.Mix(_settings.Seed ^ 0x5EEDF00DUL)).Shuffle(shuffled);
        return shuffled.Take(Math.Max(1, (int)Math.Round(_settings.Fraction * records.Count))).ToList();
    }

    /// <summary>
    /// Class-balanced sampling: every class present is drawn up to the size of the largest one
    /// (its own images first, then seeded draws with replacement), so each epoch of the loader's
    /// shuffle sees the classes equally often.
    /// </summary>
    private IReadOnlyList<LabelledImage> BalancedEpoch(IReadOnlyList<LabelledImage> records)
    {
        var byClass = records.GroupBy(r => r.Label).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        if (byClass.Count == 0) return [];
        int size = byClass.Max(g => g.Count);
        var rng = new SeededRandom(SeededRandom.Mix(_settings.Seed ^ 0xBA1A9CEUL));
        var result = new List<LabelledImage>(size * byClass.Count);
        foreach (List<LabelledImage> group in byClass)
        {
            result.AddRange(group);
            for (int i = group.Count; i < size; i++) result.Add(group[rng.NextInt(group.Count)]);
        }
        return result;
    }
}

/// <summary>What a probing or fine-tuning run ended with.</summary>
/// <param name="Report">The test metrics; null when the run ended before its last step (tests' kill).</param>
public sealed record ClassifierResult(MetricsReport? Report, double LastLoss, TimeSpan Elapsed, string OutputDir);
