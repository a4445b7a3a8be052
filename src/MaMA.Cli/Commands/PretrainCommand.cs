using MaMA.Training.Config;
using MaMA.Training.Pretraining;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama pretrain --config FILE.json [--data DIR] [--out RUN_DIR] [--resume] [--device D]</c>:
/// MaMA pre-training (docs/training.md). With <c>--resume</c> the run folder's newest good
/// checkpoint is continued; <c>--config</c> is then optional (the folder's config.json is used).
/// Exit 0 when the run reached its last step, 1 when it stopped on non-finite steps or failed.
/// </summary>
internal static class PretrainCommand
{
    public static int Run(CommandLine cl)
    {
        string? configPath = cl.Get("config");
        string? data = cl.Get("data");
        string outDir = cl.Get("out", Path.Combine("runs", "pretrain"));
        bool resume = cl.Has("resume");
        if (resume && cl.Get("resume") is { } v) throw new UsageException($"--resume takes no value, got '{v}'.");
        string? deviceSpec = cl.Get("device");
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        if (configPath is null && !resume) throw new UsageException("--config FILE.json is required (e.g. configs/pretrain-tiny.json), or --resume to continue a run.");

        TrainingConfig? config = configPath is null ? null : TrainingConfigFile.Load(configPath);
        if (resume && config is null && (data is not null || deviceSpec is not null))
        {
            config = TrainingConfigFile.Load(Path.Combine(outDir, "config.json"));
        }
        if (config is not null && data is not null) config = config with { Data = Path.GetFullPath(data) };
        if (config is not null && deviceSpec is not null) config = config with { Device = deviceSpec };
        string spec = deviceSpec ?? config?.Device ?? ReadStoredDevice(outDir);
        MaMA.Engine.Devices.Device device;
        try
        {
            device = MaMA.Engine.Devices.Device.Parse(spec);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        var trainer = new Pretrainer(config, outDir, resume, device);
        Console.WriteLine($"mama pretrain: {trainer.Config.Model} on {device.Name} -> {trainer.Run.Root}");
        PretrainResult result = trainer.Train();
        Console.WriteLine($"{result.Steps} steps in {result.Elapsed.TotalMinutes:F1} min, last loss {result.LastLoss:F4}, " +
                          $"{result.ImagesPerSecond:F1} pairs/s, {result.Skipped} skipped; newest checkpoint: step {result.LastCheckpointStep}");
        if (result.StopMessage is { } stop)
        {
            Console.Error.WriteLine("mama pretrain: " + stop);
            return 1;
        }
        Console.WriteLine($"metrics: {trainer.Run.MetricsPath}; loss curves: {trainer.Run.LossPlotPath}; model: {trainer.Run.FinalModelDir}");
        return 0;
    }

    private static string ReadStoredDevice(string runDir)
    {
        string path = Path.Combine(runDir, "config.json");
        return File.Exists(path) ? TrainingConfigFile.Load(path).Device : "auto";
    }
}
