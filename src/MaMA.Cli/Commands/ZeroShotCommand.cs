using System.Globalization;
using MaMA.Cli.Help;
using MaMA.Data.Labels;
using MaMA.Data.Splits;
using MaMA.Evaluation.ZeroShot;
using MaMA.Training.Runs;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama zeroshot --model DIR --data DIR --task birads|density|rsna [--split test|valid|train|all]
/// [--balanced] [--seed N] [--split-seed N] --out DIR [--device D] [--batch N]</c>: zero-shot classification with
/// instance prompts (SPEC section 1; <see cref="ZeroShotClassifier"/>) of an EMBED-shaped folder
/// (birads, density) or an RSNA-Mammo folder (rsna). Writes scores.csv, labels.csv, logits.csv,
/// samples.csv, skipped.csv, metrics.json, confusion.png and roc.png into --out
/// (<see cref="ZeroShotOutputs"/>) and prints the metrics. Unreadable images are skipped, counted
/// and listed.
/// </summary>
internal static class ZeroShotCommand
{
    private static readonly string Usage = HelpTexts.Usage("zeroshot");

    public static int Run(CommandLine cl)
    {
        string? model = cl.Get("model");
        string? data = cl.Get("data");
        string? taskName = cl.Get("task");
        string? output = cl.Get("out");
        string splitName = cl.Get("split", "test");
        bool? balancedGiven = cl.Has("balanced") ? cl.Flag("balanced") : null;
        ulong seed = EvalOptions.Seed(cl);
        ulong splitSeed = EvalOptions.SplitSeed(cl);
        int batch = EvalOptions.Batch(cl);
        Device device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'. {Usage}");
        if (model is null || data is null || taskName is null || output is null) throw new UsageException($"--model, --data, --task and --out are required. {Usage}");
        DownstreamTask task = DownstreamTasks.Parse(taskName) ?? throw new UsageException($"--task takes birads, density or rsna, not '{taskName}'.");
        DataSplit? split = EvalOptions.Split(splitName);
        // The published evaluation scores EMBED on a class-balanced test subset (--balanced_test) and
        // RSNA-Mammo on its whole held-out set: those are the defaults.
        bool balanced = balancedGiven ?? task != DownstreamTask.Rsna;
        EvalOptions.RequireFolder(model, "--model", "a model folder with config.json and model.safetensors");
        EvalOptions.RequireFolder(data, "--data", task == DownstreamTask.Rsna ? "an RSNA-Mammo folder with train.csv" : "an EMBED-shaped folder (see `mama synth`)");

        ZeroShotSelection selection = task == DownstreamTask.Rsna
            ? ZeroShotSelection.FromRsna(data, split, balanced, seed, splitSeed)
            : ZeroShotSelection.FromEmbed(data, task, split, balanced, seed, splitSeed: splitSeed);
        Console.WriteLine($"zero-shot {task.Name()}: {selection.Description}");
        if (selection.Samples.Count == 0) throw new InvalidDataException($"{data}: no labelled image to classify ({selection.Description}).");

        EvaluationModel evaluation = EvaluationModel.Load(model, device);
        Console.WriteLine($"model {evaluation.Directory} ({evaluation.ImageSize}x{evaluation.ImageSize} images, E {evaluation.Config.EmbedDim}) on {device.Name}");
        var classifier = new ZeroShotClassifier(evaluation, task);
        ZeroShotResult result = ProgressReporter.Run($"zero-shot {task.Name()}", selection.Samples.Count, 0, progress =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            return classifier.Classify(selection.Samples, batch, (done, total) =>
                progress.Update(done, "images", done / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)));
        }, plainEvery: Math.Max(1, batch));

        EvalOptions.PrintSkipped(result.Failed, Path.Combine(Path.GetFullPath(output), ZeroShotOutputs.SkippedCsv));
        if (balanced && result.Failed.Count > 0)
        {
            // The subset is drawn before the images are read: what was scored may no longer be balanced.
            string counts = string.Join(", ", result.Samples.GroupBy(s => s.Label).OrderBy(g => g.Key).Select(g => $"{task.ClassNames()[g.Key]} {g.Count()}"));
            Console.Error.WriteLine($"note: the class-balanced subset lost {result.Failed.Count} unreadable image(s); scored per class: {counts}");
        }
        ZeroShotOutputs written = ZeroShotOutputs.Write(result, output);
        Console.WriteLine($"classified {result.Samples.Count} images ({classifier.CachedPrompts} distinct prompts encoded, s = {result.LogitScale.ToString("G6", CultureInfo.InvariantCulture)})");
        foreach (string line in written.Report.Lines()) Console.WriteLine(line);
        Console.WriteLine($"wrote {string.Join(", ", written.Files.Select(Path.GetFileName))} to {written.Directory}");
        return 0;
    }
}

/// <summary>Options shared by the evaluation commands (zeroshot, embed, explain).</summary>
internal static class EvalOptions
{
    public static int Batch(CommandLine cl)
    {
        int batch = cl.GetInt("batch", 16);
        return batch >= 1 ? batch : throw new UsageException($"--batch must be at least 1, got {batch}.");
    }

    public static ulong Seed(CommandLine cl)
    {
        string text = cl.Get("seed", "0");
        return ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong seed) ? seed : throw new UsageException($"--seed must be a non-negative integer, got '{text}'.");
    }

    /// <summary>--split-seed: the seed of a patient split made on first use (EMBED's splits.csv) or in memory (RSNA).</summary>
    public static ulong SplitSeed(CommandLine cl)
    {
        string text = cl.Get("split-seed", "0");
        return ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong seed) ? seed : throw new UsageException($"--split-seed must be a non-negative integer, got '{text}'.");
    }

    /// <summary>train, valid, test, or all (null).</summary>
    public static DataSplit? Split(string name) => name == "all"
        ? null
        : DataSplitNames.Parse(name) ?? throw new UsageException($"--split takes train, valid, test or all, not '{name}'.");

    /// <summary>A folder an option names must exist: a missing one is a usage mistake (exit 2), as for every command.</summary>
    public static void RequireFolder(string path, string option, string what)
    {
        if (!Directory.Exists(path)) throw new UsageException($"{option} {path}: no such folder ({what}).");
    }

    /// <summary>A file an option names must exist (exit 2 otherwise).</summary>
    public static void RequireFile(string path, string option, string what)
    {
        if (!File.Exists(path)) throw new UsageException($"{option} {path}: no such file ({what}).");
    }

    /// <summary>Prints how many images were skipped and the first few with their reasons (stderr).</summary>
    public static void PrintSkipped(IReadOnlyList<Evaluation.Embedding.ImageFailure> failed, string? listFile)
    {
        if (failed.Count == 0) return;
        Console.Error.WriteLine($"skipped {failed.Count} unreadable image{(failed.Count == 1 ? "" : "s")}{(listFile is null ? "" : $" (all listed in {listFile})")}:");
        foreach (var f in failed.Take(5)) Console.Error.WriteLine($"  {f.Path}: {f.Reason}");
        if (failed.Count > 5) Console.Error.WriteLine($"  ... and {failed.Count - 5} more");
    }
}
