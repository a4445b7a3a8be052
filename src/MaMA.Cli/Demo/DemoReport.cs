using System.Runtime.InteropServices;
using System.Text.Json;
using MaMA.Data.Images;
using MaMA.Evaluation.Golden;
using MaMA.Model.Checkpoints;

namespace MaMA.Cli.Demo;

/// <summary>
/// <c>DIR/report.json</c>: everything a demo run measured, in one indented JSON object:
/// <c>engine_version</c>, <c>git_commit</c>, <c>device</c>, <c>machine</c>, <c>seeds</c>,
/// <c>settings</c>, <c>model</c> (its config.json content and parameter count), <c>data</c>
/// (studies, images), <c>pretraining</c> (steps, late-loss step, last logged loss terms),
/// <c>evaluations</c> (per key: title, task, classes, chance, every metric of SPEC section 7 as
/// <c>metrics.json</c> writes it, and the pictures), <c>time</c> (wall and CPU seconds per phase
/// and in all) and <c>files</c>. Paths are relative to DIR. Non-finite numbers are null.
/// </summary>
public static class DemoReport
{
    public const string FileName = "report.json";

    /// <summary>Writes the report atomically (temporary file, then rename).</summary>
    public static void Write(DemoResult result, string path)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("command", "mama demo");
            w.WriteString("engine_version", EngineIdentity.Version);
            w.WriteString("git_commit", EngineIdentity.GitCommit());
            w.WriteString("device", result.Device.Name);
            w.WriteStartObject("machine");
            w.WriteString("os", RuntimeInformation.OSDescription);
            w.WriteString("architecture", RuntimeInformation.ProcessArchitecture.ToString());
            w.WriteNumber("logical_processors", Environment.ProcessorCount);
            w.WriteString("runtime", RuntimeInformation.FrameworkDescription);
            w.WriteEndObject();
            WriteSeeds(w, result);
            WriteSettings(w, result.Settings);
            WriteModel(w, result);
            WriteData(w, result);
            WritePretraining(w, result);
            w.WriteStartObject("evaluations");
            foreach (DemoEvaluation e in result.Evaluations) WriteEvaluation(w, e, result.Directory);
            w.WriteEndObject();
            WriteTimes(w, result.Times);
            w.WriteStartArray("files");
            foreach (string file in Files(result)) w.WriteStringValue(Relative(result.Directory, file));
            w.WriteEndArray();
            w.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(path, buffer.ToArray());
    }

    /// <summary>The files a person looks at: loss curves, metrics, confusion matrices, ROC curves, the model.</summary>
    public static IReadOnlyList<string> Files(DemoResult result)
    {
        var files = new List<string> { Path.Combine(result.Directory, "pretrain", "metrics.jsonl"), Path.Combine(result.Directory, "pretrain", "loss.png") };
        files.Add(Path.Combine(result.Directory, "pretrain", "final", ModelConfigFile.FileName));
        foreach (DemoEvaluation e in result.Evaluations)
        {
            files.Add(Path.Combine(e.Directory, "metrics.json"));
            files.AddRange(e.Pictures);
        }
        return files.Where(File.Exists).ToArray();
    }

    private static void WriteSeeds(Utf8JsonWriter w, DemoResult r)
    {
        // One seed drives every phase; the keys say where it goes.
        w.WriteStartObject("seeds");
        w.WriteNumber("synthetic_data", r.Settings.Seed);
        w.WriteNumber("patient_split", r.Training.SplitSeed);
        w.WriteNumber("pretraining", r.Training.Seed);
        w.WriteNumber("balanced_test_subset", r.Settings.Seed);
        w.WriteNumber("linear_probe", r.Settings.Seed);
        w.WriteEndObject();
    }

    private static void WriteSettings(Utf8JsonWriter w, DemoSettings s)
    {
        w.WriteStartObject("settings");
        w.WriteNumber("studies", s.Studies);
        w.WriteNumber("image_width", s.Width);
        w.WriteNumber("image_height", s.Width * 5 / 4);
        w.WriteNumber("pretrain_steps", s.Steps);
        w.WriteNumber("warmup_steps", s.WarmupSteps);
        w.WriteNumber("lr", s.Lr);
        w.WriteNumber("min_lr", s.MinLr);
        w.WriteNumber("micro_batch", s.MicroBatch);
        w.WriteNumber("probe_steps", s.ProbeSteps);
        w.WriteNumber("probe_lr", s.ProbeLr);
        w.WriteNumber("probe_batch", s.ProbeBatch);
        w.WriteNumber("eval_batch", s.EvalBatch);
        w.WriteNumber("workers", s.Workers);
        w.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter w, DemoResult r)
    {
        w.WriteStartObject("model");
        w.WriteNumber("parameters", r.Parameters);
        w.WriteNumber("image_size", r.Settings.Model.Vision.ImageSize);
        w.WritePropertyName("config");
        w.WriteRawValue(ModelConfigFile.ForMaMA(r.Settings.Model).ToJson());
        w.WriteEndObject();
    }

    private static void WriteData(Utf8JsonWriter w, DemoResult r)
    {
        w.WriteStartObject("data");
        w.WriteString("directory", Relative(r.Directory, r.Data.Directory));
        w.WriteNumber("patients", r.Data.Patients);
        w.WriteNumber("studies", r.Data.Studies);
        w.WriteNumber("images", r.Data.Images.Count);
        w.WriteNumber("images_skipped_by_the_rules", r.Data.Images.Count(i => i.Skipped || i.ImageType != "2D"));
        w.WriteEndObject();
    }

    private static void WritePretraining(Utf8JsonWriter w, DemoResult r)
    {
        w.WriteStartObject("pretraining");
        w.WriteString("run", Relative(r.Directory, Path.Combine(r.Directory, "pretrain")));
        w.WriteNumber("steps", r.Pretraining.Steps);
        w.WriteNumber("late_loss_step", r.Settings.Model.LateLossStep);
        w.WriteNumber("skipped_steps", r.Pretraining.Skipped);
        Number(w, "last_loss", r.Pretraining.LastLoss);
        Number(w, "pairs_per_second", r.Pretraining.ImagesPerSecond);
        // The last train line of metrics.jsonl: every loss term, retrieval accuracy, logit scale.
        w.WritePropertyName("last_logged");
        string metrics = Path.Combine(r.Directory, "pretrain", "metrics.jsonl");
        string? last = File.Exists(metrics) ? File.ReadLines(metrics).LastOrDefault(l => l.Contains("\"train\"", StringComparison.Ordinal)) : null;
        if (last is null) w.WriteNullValue();
        else w.WriteRawValue(last);
        w.WriteEndObject();
    }

    private static void WriteEvaluation(Utf8JsonWriter w, DemoEvaluation e, string root)
    {
        w.WriteStartObject(e.Key);
        w.WriteString("title", e.Title);
        w.WriteString("task", e.Task);
        w.WriteStartArray("classes");
        foreach (string c in e.ClassNames) w.WriteStringValue(c);
        w.WriteEndArray();
        w.WriteNumber("images", e.Report.Count);
        w.WriteNumber("chance_balanced_accuracy", e.Chance);
        w.WritePropertyName("metrics");
        w.WriteRawValue(e.Report.ToJson());
        w.WriteStartArray("pictures");
        foreach (string p in e.Pictures) w.WriteStringValue(Relative(root, p));
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTimes(Utf8JsonWriter w, PhaseTimes t)
    {
        w.WriteStartObject("time");
        w.WriteStartArray("phases");
        foreach ((string name, double wall, double cpu) in t.Phases)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteNumber("wall_seconds", Math.Round(wall, 2));
            w.WriteNumber("cpu_seconds", Math.Round(cpu, 2));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("total_wall_seconds", Math.Round(t.TotalWallSeconds, 2));
        w.WriteNumber("total_cpu_seconds", Math.Round(t.TotalCpuSeconds, 2));
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');
}
