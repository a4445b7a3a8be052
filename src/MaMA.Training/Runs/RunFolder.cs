using MaMA.Training.Checkpoints;
using MaMA.Training.Config;

namespace MaMA.Training.Runs;

/// <summary>
/// The folder of one training run:
/// <code>
/// RUN/config.json        the configuration the run uses (copied in at start, replaced on a resume with a changed config)
/// RUN/metrics.jsonl      one line per logged step (see MetricsLog)
/// RUN/loss.png           loss curves, redrawn at every log and at the end
/// RUN/checkpoints/step-NNNNNN/   model.safetensors, optimizer.safetensors, state.json (see CheckpointStore)
/// RUN/synthetic/         the built-in synthetic dataset, when the config names no data
/// RUN/final/             the model at the end of the run as a model directory (when the trainer writes one)
/// </code>
/// A fresh run refuses a folder that already holds checkpoints (resume it or choose another one).
/// </summary>
public sealed class RunFolder
{
    private RunFolder(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string ConfigPath => Path.Combine(Root, "config.json");

    public string MetricsPath => Path.Combine(Root, "metrics.jsonl");

    public string LossPlotPath => Path.Combine(Root, "loss.png");

    public string CheckpointsDir => Path.Combine(Root, "checkpoints");

    public string SyntheticDataDir => Path.Combine(Root, "synthetic");

    public string FinalModelDir => Path.Combine(Root, "final");

    /// <summary>The model of the lowest validation loss so far (<see cref="Pretraining.BestModel"/>); only with validation on.</summary>
    public string BestModelDir => Path.Combine(Root, "best");

    /// <summary>Opens a folder for a new run: creates it, fails when it holds checkpoints already, writes config.json.</summary>
    public static RunFolder CreateNew(string root, TrainingConfig config)
    {
        var run = new RunFolder(root);
        if (new CheckpointStore(run.CheckpointsDir, 1).List().Count > 0)
            throw new InvalidOperationException($"{run.Root} already holds checkpoints of a run: pass --resume to continue it, or choose another --out.");
        Directory.CreateDirectory(run.Root);
        run.WriteConfig(config);
        return run;
    }

    /// <summary>
    /// Opens a folder to resume: its config.json is the configuration unless <paramref name="replacement"/>
    /// is given, in which case every changed key is reported through <paramref name="warn"/> and the new config is written.
    /// </summary>
    public static (RunFolder Run, TrainingConfig Config) OpenForResume(string root, TrainingConfig? replacement, Action<string> warn)
    {
        var run = new RunFolder(root);
        if (!File.Exists(run.ConfigPath))
            throw new FileNotFoundException($"{run.Root} is not a run folder (no config.json); start a run there without --resume.", run.ConfigPath);
        TrainingConfig stored = TrainingConfigFile.Load(run.ConfigPath);
        if (replacement is null || replacement == stored) return (run, stored);
        foreach (string change in Differences(stored, replacement)) warn($"resuming with a changed config: {change}");
        run.WriteConfig(replacement);
        return (run, replacement);
    }

    /// <summary>The keys whose values differ, as "key: old -> new" (compared on the JSON form).</summary>
    public static IEnumerable<string> Differences(TrainingConfig a, TrainingConfig b)
    {
        var left = Flatten(System.Text.Json.JsonSerializer.SerializeToElement(a, TrainingConfigFile.JsonOptions), "");
        var right = Flatten(System.Text.Json.JsonSerializer.SerializeToElement(b, TrainingConfigFile.JsonOptions), "");
        foreach ((string key, string value) in left)
            if (!right.TryGetValue(key, out string? other) || other != value) yield return $"{key}: {value} -> {other ?? "(absent)"}";
    }

    private static Dictionary<string, string> Flatten(System.Text.Json.JsonElement e, string prefix)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (e.ValueKind == System.Text.Json.JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
                foreach (var kv in Flatten(p.Value, prefix.Length == 0 ? p.Name : prefix + "." + p.Name)) result[kv.Key] = kv.Value;
        }
        else
        {
            result[prefix] = e.GetRawText();
        }
        return result;
    }

    private void WriteConfig(TrainingConfig config)
    {
        string tmp = ConfigPath + ".tmp";
        File.WriteAllText(tmp, TrainingConfigFile.ToJson(config) + "\n");
        File.Move(tmp, ConfigPath, overwrite: true);
    }
}
