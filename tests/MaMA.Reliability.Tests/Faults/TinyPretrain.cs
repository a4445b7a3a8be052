using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using MaMA.Data.Synthetic;
using MaMA.Training.Checkpoints;
using MaMA.Training.Runs;

namespace MaMA.Reliability.Tests.Faults;

/// <summary>
/// configs/pretrain-tiny.json (copied beside the tests) shortened for the fault tests, on one
/// synthetic dataset written once, and what the tests read back from a run folder.
/// </summary>
internal static class TinyPretrain
{
    /// <summary>metrics.jsonl keys that depend on the machine's speed or the GC, not on the training.</summary>
    public static readonly string[] TimingKeys = ["images_per_s", "step_seconds", "memory_mb"];

    /// <summary>Writes the tiny config with <paramref name="steps"/> steps and the given overrides, returns its path.</summary>
    public static string Config(string dir, string name, string data, long steps, int checkpointEvery, int microBatch = 8, int accumulation = 2)
    {
        string source = Path.Combine(AppContext.BaseDirectory, "configs", "pretrain-tiny.json");
        JsonNode config = JsonNode.Parse(File.ReadAllText(source), documentOptions: new JsonDocumentOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        })!;
        config["data"] = data;
        config["schedule"]!["max_steps"] = steps;
        config["schedule"]!["warmup_steps"] = Math.Min(2, steps);
        config["batch"]!["micro_batch"] = microBatch;
        config["batch"]!["accumulation"] = accumulation;
        config["checkpoint_every"] = checkpointEvery;
        config["keep_last"] = 3;
        config["log_every"] = 1;
        config["eval_every"] = 0;
        string path = Path.Combine(dir, name + ".json");
        File.WriteAllText(path, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    /// <summary>The synthetic dataset of the tiny config (64 studies, 64 x 80 px), written into <paramref name="dir"/>.</summary>
    public static string Data(string dir)
    {
        string data = Path.Combine(dir, "data");
        SyntheticEmbed.Write(data, new SynthOptions { Studies = 64, Seed = 0, Width = 64, Height = 80, Force = true });
        return data;
    }

    public static string[] Pretrain(string config, string run) => ["pretrain", "--config", config, "--out", run];

    public static string[] Resume(string run) => ["pretrain", "--out", run, "--resume"];

    public static IReadOnlyList<MetricsLine> TrainLines(string run) =>
        MetricsLog.Read(Path.Combine(run, "metrics.jsonl")).Where(l => l.Kind == "train").ToList();

    /// <summary>The newest train step in metrics.jsonl while the run may still be writing it (0 when none).</summary>
    public static long LastLoggedStep(string run)
    {
        string path = Path.Combine(run, "metrics.jsonl");
        if (!File.Exists(path)) return 0;
        try
        {
            return MetricsLog.Read(path).Where(l => l.Kind == "train").Select(l => l.Step).DefaultIfEmpty(0).Max();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or JsonException)
        {
            return 0; // a line half written at this instant
        }
    }

    public static string Checkpoints(string run) => Path.Combine(run, "checkpoints");

    public static string[] Temporaries(string run) =>
        Directory.Exists(Checkpoints(run)) ? Directory.GetDirectories(Checkpoints(run), ".tmp-*").Select(d => Path.GetFileName(d)).ToArray() : [];

    public static long[] CheckpointSteps(string run) =>
        new CheckpointStore(Checkpoints(run), 3).List().Select(c => c.Step).ToArray();

    public static string Sha(string file) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));

    /// <summary>SHA-256 of every file of checkpoint <paramref name="step"/> of <paramref name="run"/>, by file name.</summary>
    public static Dictionary<string, string> CheckpointFiles(string run, long step) =>
        Directory.GetFiles(Path.Combine(Checkpoints(run), CheckpointStore.FolderName(step)))
            .ToDictionary(f => Path.GetFileName(f), Sha, StringComparer.Ordinal);

    /// <summary>
    /// Every train line of <paramref name="actual"/> equals <paramref name="expected"/>'s, value for value
    /// with == (tolerance 0), apart from <see cref="TimingKeys"/>. Returns the number of values compared.
    /// </summary>
    public static int AssertSameTraining(IReadOnlyList<MetricsLine> expected, IReadOnlyList<MetricsLine> actual)
    {
        Assert.That(actual.Select(l => l.Step), Is.EqualTo(expected.Select(l => l.Step)), "logged steps");
        int compared = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            var keys = expected[i].Values.Keys.Except(TimingKeys).Order(StringComparer.Ordinal).ToArray();
            Assert.That(actual[i].Values.Keys.Except(TimingKeys).Order(StringComparer.Ordinal), Is.EqualTo(keys), $"keys of step {expected[i].Step}");
            foreach (string k in keys)
            {
                double e = expected[i].Values[k], a = actual[i].Values[k];
                Assert.That(a.Equals(e), $"step {expected[i].Step} {k}: resumed {a:R}, uninterrupted {e:R}");
                compared++;
            }
        }
        return compared;
    }

    /// <summary>Output a person must be able to act on: no stack trace, no unhandled-exception dump.</summary>
    public static void AssertNoStackTrace(CliProcess p)
    {
        string all = p.Stdout + p.Stderr;
        Assert.That(all, Does.Not.Contain("Unhandled exception"), p.Describe());
        Assert.That(all, Does.Not.Match(@"(?m)^\s+at \S+\("), p.Describe());
    }
}
