using System.Globalization;
using MaMA.Data.Labels;
using MaMA.Training.Probing;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama probe --model M [--data DIR] [--task birads|density|rsna] [--fraction 0.01|0.1|1] [--out DIR]
/// [--steps 8000] [--warmup 100] [--lr 5e-4] [--min-lr 1e-5] [--weight-decay 1e-3] [--batch 32]
/// [--crop-scale-min 0.08] [--seed 0] [--split-seed 0] [--workers N] [--log-every 50] [--checkpoint-every 1000] [--keep-last 2] [--resume] [--device D]</c>:
/// linear probing of a MaMA model's ViT (SPEC section 7); <c>mama finetune</c> takes the same
/// options and trains the ViT too. Writes the classifier weights, train.jsonl, loss.png,
/// metrics.json, confusion.png and roc.png into --out, and checkpoints into --out/checkpoints
/// (docs/training.md). A pre-training run folder as --model also supplies its EMBED data unless --data
/// is given; the rsna task reads an RSNA-Mammo folder given by --data.
/// </summary>
internal static class ProbeCommand
{
    public static int Run(CommandLine cl) => Run(cl, fineTune: false);

    internal static int Run(CommandLine cl, bool fineTune)
    {
        string name = fineTune ? "finetune" : "probe";
        var defaults = new ClassifierSettings();
        string? model = cl.Get("model");
        string? data = cl.Get("data");
        string task = cl.Get("task", "density");
        double fraction = GetDouble(cl, "fraction", 1.0);
        bool resume = cl.Flag("resume");
        int steps = cl.GetInt("steps", (int)defaults.Steps);
        string outDir = cl.Get("out", Path.Combine("runs", $"{name}-{task}-{fraction.ToString("0.##", CultureInfo.InvariantCulture)}"));
        var settings = defaults with
        {
            Model = model ?? "",
            Data = data is null ? null : Path.GetFullPath(data),
            Task = DownstreamTasks.Parse(task) ?? throw new UsageException($"--task must be birads, density or rsna, got '{task}'."),
            Fraction = fraction,
            FineTune = fineTune,
            Steps = steps,
            // The paper's 100 warm-up steps, or all of a shorter run.
            WarmupSteps = cl.GetInt("warmup", (int)Math.Min(defaults.WarmupSteps, Math.Max(steps, 0))),
            Lr = GetDouble(cl, "lr", defaults.Lr),
            MinLr = GetDouble(cl, "min-lr", defaults.MinLr),
            WeightDecay = GetDouble(cl, "weight-decay", defaults.WeightDecay),
            BatchSize = cl.GetInt("batch", defaults.BatchSize),
            CropScaleMin = GetDouble(cl, "crop-scale-min", defaults.CropScaleMin),
            Seed = EvalOptions.Seed(cl),
            SplitSeed = EvalOptions.SplitSeed(cl),
            Workers = cl.GetInt("workers", Environment.ProcessorCount),
            LogEvery = cl.GetInt("log-every", defaults.LogEvery),
            CheckpointEvery = cl.GetInt("checkpoint-every", defaults.CheckpointEvery),
            KeepLast = cl.GetInt("keep-last", defaults.KeepLast),
            Resume = resume,
        };
        var device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        if (model is null) throw new UsageException("--model is required: tiny, paper, a MaMA model folder, or a pre-training run folder (its final/ model).");
        if (model is not ("tiny" or "paper") && !Directory.Exists(model) && !File.Exists(model))
            throw new UsageException($"--model {model}: no such folder (tiny, paper, a MaMA model folder, or a pre-training run folder).");
        if (data is not null)
            EvalOptions.RequireFolder(data, "--data", settings.Task == DownstreamTask.Rsna ? "an RSNA-Mammo folder with train.csv" : "an EMBED-shaped folder, docs/data.md");
        try
        {
            settings.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        Console.WriteLine($"mama {name}: {settings.Task.Name()} on {model} ({device.Name}) -> {Path.GetFullPath(outDir)}");
        ClassifierResult result = fineTune ? FineTuner.Run(settings, outDir, device) : LinearProbe.Run(settings, outDir, device);
        Console.WriteLine($"{settings.Steps} steps in {result.Elapsed.TotalMinutes:F1} min, last loss {result.LastLoss:F4}");
        foreach (string line in result.Report?.Lines() ?? []) Console.WriteLine(line);
        Console.WriteLine($"written: {Path.Combine(result.OutputDir, "metrics.json")}, classifier.safetensors, loss.png, confusion.png, roc.png");
        return 0;
    }

    private static double GetDouble(CommandLine cl, string option, double fallback)
    {
        string? v = cl.Get(option);
        if (v is null) return fallback;
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) ? r : throw new UsageException($"--{option} expects a number, got '{v}'.");
    }
}
