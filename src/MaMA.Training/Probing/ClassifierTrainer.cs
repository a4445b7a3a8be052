using System.Diagnostics;
using MaMA.Data.Embed;
using MaMA.Data.Images.Transforms;
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
using MaMA.Training.Data;
using MaMA.Training.Pretraining;
using MaMA.Training.Runs;
using MaMA.Training.Schedules;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Probing;

/// <summary>
/// The loop shared by <see cref="LinearProbe"/> and <see cref="FineTuner"/>: a Linear(C -> classes)
/// head on the ViT's pooled feature [B, C], trained with cross-entropy on class-balanced batches,
/// then scored on the class-balanced test subset. Writes into the output folder:
/// <c>classifier.safetensors</c> (the head as <c>head.*</c>; fine-tuning adds the ViT under its MaMA
/// keys), <c>train.jsonl</c> (loss, lr per log step), <c>loss.png</c>, <c>metrics.json</c>
/// (MaMA.Evaluation's report), <c>confusion.png</c> and <c>roc.png</c>.
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
        Directory.CreateDirectory(output);
        ModelSource.Resolved source = ModelSource.Resolve(ResolveModel(_settings.Model), activationCheckpointing: false);
        MaMAModel model = ModelSource.Build(source, _settings.Seed, _device);
        var tokenizer = ModelSource.Tokenizer(source);
        TrainingData data = TrainingData.Open(_settings.Data, Path.Combine(output, "synthetic"), _settings.SyntheticStudies, _settings.SyntheticWidth, _settings.Seed, 0, _say);
        Func<EmbedRecord, int?> label = _settings.Task == ClassifierTask.Birads ? r => r.Birads : r => r.DensityLabel;

        IReadOnlyList<EmbedRecord> train = Fraction(data.Train.Where(r => label(r) is not null).ToList());
        IReadOnlyList<EmbedRecord> balancedEpoch = BalancedEpoch(train, label);
        IReadOnlyList<EmbedRecord> test = BalancedSubset.Select(data.Test.Where(r => label(r) is not null).ToList(), label, _settings.Seed);
        if (train.Count == 0 || test.Count == 0)
            throw new InvalidOperationException($"{data.Directory}: {train.Count} training and {test.Count} balanced test images with a {_settings.Task} label; need at least one of each.");
        int batch = Math.Min(_settings.BatchSize, balancedEpoch.Count);
        int side = source.Config.Vision.ImageSize;
        var transform = new MammoTransformOptions { ImageSize = side, CropSize = side };
        var loader = new MammoLoader(balancedEpoch, tokenizer, new LoaderOptions
        {
            BatchSize = batch, Seed = _settings.Seed, PairProbability = 0, Masking = MetaMasking.None, Workers = _settings.Workers, Transform = transform,
        });

        var vit = model.ImageEncoder;
        int channels = source.Config.Vision.EmbedDim;
        var head = new Linear(channels, _settings.Classes, new Random(unchecked((int)_settings.Seed) + 1), device: _device);
        List<Parameter> parameters = head.Parameters().ToList();
        if (_settings.FineTune) parameters.AddRange(vit.Model.Parameters().Where(p => !p.IsFrozen));
        else foreach (Parameter p in model.Parameters()) p.Freeze();
        model.Eval();
        var optimizer = new SgdMomentum([new ParamGroup(parameters, _settings.Lr, _settings.WeightDecay)], _settings.Momentum);
        var schedule = new WarmupCosineSchedule(_settings.Lr, _settings.MinLr, _settings.WarmupSteps, _settings.Steps);
        string mode = _settings.FineTune ? "fine-tuning" : "linear probing";
        _say($"{mode} {_settings.Task} ({_settings.Classes} classes): {train.Count} training images ({_settings.Fraction:P0} of the split, " +
             $"balanced epoch of {balancedEpoch.Count}), {test.Count} balanced test images; {parameters.Sum(p => p.Numel):N0} trained parameters; device {_device.Name}");

        var clock = Stopwatch.StartNew();
        string metricsPath = Path.Combine(output, "train.jsonl");
        double lastLoss = double.NaN;
        using (var log = new MetricsLog(metricsPath, null))
        using (var stream = new BatchStream(loader, new Checkpoints.DataPosition(0, 0)))
        {
            ProgressReporter.Run(mode, _settings.Steps, 0, progress =>
            {
                for (long s = 0; s < _settings.Steps; s++)
                {
                    var stepClock = Stopwatch.StartNew();
                    double lr = schedule.At(s);
                    optimizer.SetLearningRate(lr);
                    optimizer.ZeroGrad();
                    MammoBatch b = stream.Next();
                    using Tensor pixels = b.View1Tensor(_device);
                    using Tensor targets = Tensor.FromArray(b.Birads.Select((_, i) => (long)Label(b, i)).ToArray(), [b.Count], _device);
                    Tensor loss = Ops.CrossEntropy(head.Forward(Features(model, pixels)), targets);
                    loss.Backward();
                    optimizer.Step();
                    lastLoss = loss.Item();
                    long done = s + 1;
                    double perSecond = b.Count / Math.Max(stepClock.Elapsed.TotalSeconds, 1e-9);
                    if (done % _settings.LogEvery == 0 || done == _settings.Steps)
                        log.Append(done, "train", [new("loss", lastLoss), new("lr", lr), new("images_per_s", perSecond)]);
                    progress.Update(done, $"loss {lastLoss:F4}", perSecond);
                }
                return 0;
            }, plainEvery: _settings.LogEvery, plain: ProgressOutput);
        }
        LossCurvePlot.FromMetricsJsonl(metricsPath, Path.Combine(output, "loss.png"));

        // Weights: the head, and for fine-tuning the ViT under its MaMA keys.
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string name, Tensor t) in head.StateDict()) weights["head." + name] = t;
        if (_settings.FineTune)
            foreach ((string name, Tensor t) in vit.Model.StateDict()) weights["img_encoder_q.model." + name] = t;
        Safetensors.Write(Path.Combine(output, "classifier.safetensors"), weights, new Dictionary<string, string>
        {
            ["task"] = _settings.Task.ToString().ToLowerInvariant(), ["mode"] = _settings.FineTune ? "finetune" : "probe", ["model"] = _settings.Model,
        });

        MetricsReport report = Evaluate(model, head, test, tokenizer, transform);
        report.WriteJson(Path.Combine(output, "metrics.json"));
        ConfusionMatrixPlot.Save(report.ConfusionMatrix, Path.Combine(output, "confusion.png"), _settings.ClassNames);
        return new ClassifierResult(report, lastLoss, clock.Elapsed, output);
    }

    /// <summary>Pooled ViT feature [B, C]; recorded only when fine-tuning.</summary>
    private Tensor Features(MaMAModel model, Tensor pixels)
    {
        if (_settings.FineTune) return model.ImageEncoder.Encode(pixels).Pooled;
        using IDisposable _ = GradMode.NoGrad();
        return model.ImageEncoder.Encode(pixels).Pooled.Detach();
    }

    private int Label(MammoBatch b, int i) => _settings.Task == ClassifierTask.Birads ? b.Birads[i] : b.Density[i];

    private MetricsReport Evaluate(MaMAModel model, Linear head, IReadOnlyList<EmbedRecord> test, MaMA.Data.Text.MaMATokenizer tokenizer, MammoTransformOptions transform)
    {
        var loader = new MammoLoader(test, tokenizer, new LoaderOptions
        {
            BatchSize = Math.Min(_settings.BatchSize, test.Count), Training = false, Workers = _settings.Workers, Transform = transform,
        });
        var probabilities = new double[test.Count, _settings.Classes];
        var labels = new int[test.Count];
        int row = 0;
        using IDisposable _ = GradMode.NoGrad();
        foreach (MammoBatch b in loader.Epoch(0))
        {
            using Tensor pixels = b.View1Tensor(_device);
            float[] p = Ops.Softmax(head.Forward(model.ImageEncoder.Encode(pixels).Pooled)).ToFloatArray();
            for (int i = 0; i < b.Count; i++, row++)
            {
                labels[row] = Label(b, i);
                for (int c = 0; c < _settings.Classes; c++) probabilities[row, c] = p[i * _settings.Classes + c];
            }
        }
        return ClassificationMetrics.Compute(probabilities, labels);
    }

    private IReadOnlyList<EmbedRecord> Fraction(List<EmbedRecord> records)
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
    private IReadOnlyList<EmbedRecord> BalancedEpoch(IReadOnlyList<EmbedRecord> records, Func<EmbedRecord, int?> label)
    {
        var byClass = records.GroupBy(r => label(r)!.Value).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        if (byClass.Count == 0) return [];
        int size = byClass.Max(g => g.Count);
        var rng = new SeededRandom(SeededRandom.Mix(_settings.Seed ^ 0xBA1A9CEUL));
        var result = new List<EmbedRecord>(size * byClass.Count);
        foreach (List<EmbedRecord> group in byClass)
        {
            result.AddRange(group);
            for (int i = group.Count; i < size; i++) result.Add(group[rng.NextInt(group.Count)]);
        }
        return result;
    }

    /// <summary>A run folder stands for its final model.</summary>
    private static string ResolveModel(string model)
    {
        string final = Path.Combine(model, "final");
        return Directory.Exists(model) && !File.Exists(Path.Combine(model, "model.safetensors")) && Directory.Exists(final) ? final : model;
    }
}

/// <summary>What a probing or fine-tuning run ended with.</summary>
public sealed record ClassifierResult(MetricsReport Report, double LastLoss, TimeSpan Elapsed, string OutputDir);
