using MaMA.Data.Synthetic;
using MaMA.Training.Config;
using MaMA.Training.Pretraining;
using MaMA.Training.Runs;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Tests.Pretraining;

/// <summary>A small synthetic dataset written once per test run, and tiny-model configs that train on it in seconds.</summary>
internal static class TinyRuns
{
    private static readonly Lazy<string> Dataset = new(() =>
    {
        string dir = TestPaths.NewScratch("synthetic");
        SyntheticEmbed.Write(dir, new SynthOptions { Studies = 16, Seed = 3, Width = 64, Height = 80, Force = true });
        return dir;
    });

    public static string DataDir => Dataset.Value;

    public static TrainingConfig Config(long steps, int checkpointEvery = 1000) => new()
    {
        Model = "tiny",
        Data = DataDir,
        Device = "cpu",
        Seed = 5,
        Optimizer = new OptimizerSettings { Lr = 2e-3, WeightDecay = 0.1 },
        Schedule = new ScheduleSettings { WarmupSteps = 2, MaxSteps = steps, MinLr = 1e-5 },
        Batch = new BatchSettings { MicroBatch = 6, Accumulation = 2 },
        Precision = Precision.Fp32,
        ActivationCheckpointing = false,
        GradClip = 1.0,
        Workers = 2,
        CheckpointEvery = checkpointEvery,
        KeepLast = 2,
        MaxNonfiniteInARow = 3,
        LogEvery = 1,
    };

    /// <summary>Runs (or resumes) a tiny pre-training in <paramref name="runDir"/>, messages collected in <paramref name="messages"/>.</summary>
    public static PretrainResult Train(TrainingConfig? config, string runDir, bool resume = false, List<string>? messages = null,
                                       Action<long, int, MaMA.Data.Loading.MammoBatch>? hook = null, long? killAfter = null)
    {
        var trainer = new Pretrainer(config, runDir, resume, Device.Cpu, m => messages?.Add(m))
        {
            BatchHook = hook,
            KillAfterStep = killAfter,
            ProgressOutput = TextWriter.Null,
        };
        return trainer.Train();
    }

    public static IReadOnlyList<MetricsLine> TrainLines(string runDir) =>
        MetricsLog.Read(Path.Combine(runDir, "metrics.jsonl")).Where(l => l.Kind == "train").ToList();
}
