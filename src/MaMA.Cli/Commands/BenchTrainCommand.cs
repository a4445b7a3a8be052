using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MaMA.Cli.Help;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Training.Config;
using MaMA.Training.Numerics;
using MaMA.Training.Pretraining;
#if MAMA_TORCH
using MaMA.Interop.Torch;
using MaMA.Interop.Torch.Reference;
using TorchSharp;
#endif
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama bench train [--config tiny|paper|FILE[,...]] [--device D] [--micro-batch N] [--steps N] [--warmup N]
/// [--activation-checkpointing true|false] [--precision fp32|bf16] [--json FILE] [--vs torch [--threads N]]</c>:
/// the time of one MaMA pre-training step (forward of every loss term, backward, AdamW) and the
/// image-report pairs per second it gives, for the tiny and the paper configuration on one device.
/// Random weights and a synthetic batch (random pixels, random token ids with a SEP every 24
/// tokens, 144 tokens): timings do not depend on values and no download is needed. The step is
/// taken at the late-loss step, so every term of SPEC section 6 runs. With <c>--vs torch</c> the
/// same step (same weights, same batch, torch.optim.AdamW) runs in TorchSharp on this CPU and the
/// ratio is printed.
/// </summary>
internal static class BenchTrainCommand
{
    private static readonly string Usage = HelpTexts.Usage("bench train");

    /// <summary>Tokens per report of the synthetic batch (the loader's MaxTokens).</summary>
    private const int Tokens = 144;

    /// <summary>One timed configuration: median step time of the engine (and torch), pairs per second, peak memory.</summary>
    private sealed record Row(string Config, int MicroBatch, bool ActivationCheckpointing, string Precision, long Parameters, long Trainable,
                              double StepMs, double PairsPerSecond, double? TorchStepMs, double? TorchPairsPerSecond, long EnginePeakBytes, long ProcessPeakBytes);

    public static int Run(CommandLine cl)
    {
        Device device = DeviceOption.Read(cl);
        bool gpu = device.Kind is not (MaMA.Engine.Devices.DeviceKind.Cpu or MaMA.Engine.Devices.DeviceKind.IlgpuCpu);
        string configs = cl.Get("config", gpu ? "tiny,paper" : "tiny");
        string? microBatchText = cl.Get("micro-batch");
        int steps = cl.GetInt("steps", 3);
        int warmup = cl.GetInt("warmup", 1);
        string? checkpointingText = cl.Get("activation-checkpointing");
        string? precisionText = cl.Get("precision");
        string? json = cl.Get("json");
        (bool vsTorch, int threads) = BenchCommand.ReadVsTorch(cl);
        cl.RejectUnknown();
        if (cl.Positionals is not ["train"]) throw new UsageException(Usage);
        if (steps < 1) throw new UsageException("--steps must be at least 1.");
        if (warmup < 0) throw new UsageException("--warmup must be >= 0.");
        int? microBatch = microBatchText is null ? null
            : int.TryParse(microBatchText, NumberStyles.None, CultureInfo.InvariantCulture, out int mb) && mb >= 2 ? mb
            : throw new UsageException($"--micro-batch must be an integer >= 2 (the contrastive losses need negatives), got '{microBatchText}'.");
        bool? checkpointing = checkpointingText switch
        {
            null => null,
            "true" => true,
            "false" => false,
            _ => throw new UsageException($"--activation-checkpointing takes true or false, got '{checkpointingText}'."),
        };
        Precision? precision = precisionText switch
        {
            null => null,
            "fp32" => Precision.Fp32,
            "bf16" => Precision.Bf16,
            _ => throw new UsageException($"--precision takes fp32 or bf16, got '{precisionText}'."),
        };
        if (json is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(json))))
            throw new UsageException($"--json {json}: its folder does not exist.");
        var plans = configs.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(c => Plan(c, gpu, microBatch, checkpointing, precision)).ToList();
        if (plans.Count == 0) throw new UsageException(Usage);
#if !MAMA_TORCH
        if (vsTorch)
            throw new UsageException("--vs torch needs TorchSharp, and this mama was built without it (-p:MamaWithTorch=false); run `bench train` without it here.");
#else
        if (vsTorch) torch.set_num_threads(threads);
#endif

        Console.WriteLine($"mama bench train on {device.Name}: random weights and a synthetic batch ({Tokens} tokens per report), step at the late-loss step " +
                          $"(every loss term), median of {steps} after {warmup} warm-up step(s)");
        var rows = new List<Row>();
        foreach (var plan in plans) rows.Add(Measure(plan, device, steps, warmup, vsTorch));

        Console.WriteLine();
        Console.WriteLine($"{"config",-8} {"micro",5} {"ckpt",5} {"prec",5} {"step ms",10} {"pairs/s",8} {"torch ms",10} {"torch p/s",9} {"x",6} {"engine peak",12} {"process peak",13}");
        foreach (Row r in rows)
            Console.WriteLine($"{r.Config,-8} {r.MicroBatch,5} {(r.ActivationCheckpointing ? "on" : "off"),5} {r.Precision,5} {r.StepMs,10:F1} {r.PairsPerSecond,8:F2} " +
                              $"{Opt(r.TorchStepMs, "F1"),10} {Opt(r.TorchPairsPerSecond, "F2"),9} {Ratio(r),6} {r.EnginePeakBytes / 1e6,9:F0} MB {r.ProcessPeakBytes / 1e6,10:F0} MB");
        Console.WriteLine("x = torch step time / engine step time (> 1: engine faster). pairs/s = micro-batch / step time (image-report pairs).");
        if (json is not null)
        {
            File.WriteAllText(json, JsonSerializer.Serialize(new { device = device.Name, steps, warmup, threads = vsTorch ? threads : (int?)null, weights = "random", batch = "synthetic", rows },
                new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    private sealed record BenchPlan(string Name, MaMAConfig Model, int MicroBatch, Precision Precision, TrainingConfig Training);

    /// <summary>
    /// tiny / paper / a training config file. Defaults: micro-batch 36 (paper) and 8 (tiny) on GPUs,
    /// 2 (paper) and 8 (tiny) on the CPU backends, where one paper step takes minutes; activation
    /// checkpointing as the paper (on) for the paper config, off for tiny; precision bf16 for the
    /// paper config on GPUs, fp32 otherwise (bf16 on the CPU backends rounds and is slower); a
    /// file's own values otherwise.
    /// </summary>
    private static BenchPlan Plan(string name, bool gpu, int? microBatch, bool? checkpointing, Precision? precision)
    {
        TrainingConfig training = name switch
        {
            "tiny" => new TrainingConfig { Model = "tiny", Batch = new BatchSettings { MicroBatch = 8 }, ActivationCheckpointing = false, Precision = Precision.Fp32 },
            "paper" => new TrainingConfig { Model = "paper", Batch = new BatchSettings { MicroBatch = gpu ? 36 : 2 }, Precision = gpu ? Precision.Bf16 : Precision.Fp32 },
            _ when File.Exists(name) => TrainingConfigFile.Load(name),
            _ => throw new UsageException($"--config takes tiny, paper or a training config file (configs/*.json), got '{name}'."),
        };
        training = training with
        {
            Batch = training.Batch with { MicroBatch = microBatch ?? training.Batch.MicroBatch },
            ActivationCheckpointing = checkpointing ?? training.ActivationCheckpointing,
            Precision = precision ?? training.Precision,
        };
        ModelSource.Resolved source = ModelSource.Resolve(training.Model, training.ActivationCheckpointing);
        CheckMicroBatch(name, training.Batch.MicroBatch, source.Config.Vision.ImageSize);
        return new BenchPlan(Path.GetFileNameWithoutExtension(name), source.Config, training.Batch.MicroBatch, training.Precision, training);
    }

    /// <summary>
    /// The synthetic batch fills each view [N, 3, S, S] and the token ids [N, 144] from one .NET
    /// array, which holds at most <see cref="Array.MaxLength"/> elements (just under 2^31); a larger
    /// micro-batch is a usage error naming the largest that fits, not an OverflowException after the
    /// model was built.
    /// </summary>
    private static void CheckMicroBatch(string config, int microBatch, int side)
    {
        long perPair = Math.Max(3L * side * side, Tokens);
        if (microBatch * perPair > Array.MaxLength)
            throw new UsageException($"micro-batch {microBatch} ({config}) is too large: a {microBatch} x 3 x {side} x {side} view has {microBatch * perPair} elements, "
                                     + $"and a tensor's array holds at most {Array.MaxLength} (just under 2^31); the largest --micro-batch for {config} is {Array.MaxLength / perPair}.");
    }

    private static Row Measure(BenchPlan plan, Device device, int steps, int warmup, bool vsTorch)
    {
        MaMAConfig config = plan.Model;
        int n = plan.MicroBatch, side = config.Vision.ImageSize;
        long step = config.LateLossStep;
        Console.WriteLine($"{plan.Name}: ViT {config.Vision.EmbedDim}d x {config.Vision.Depth} at {side}px, GPT-2 {config.Text.NEmbd}d x {config.Text.NLayer}" +
                          $"{(config.Text.Lora is { } l ? $" + LoRA r {l.Rank}" : "")}, micro-batch {n}, activation checkpointing {(config.ActivationCheckpointing ? "on" : "off")}, {PrecisionName(plan.Precision)}: building");
        var model = new MaMAModel(config, new Random(1), device);
        _ = model.NamedParameters().Count();
        model.Train();
        model.ApplyFreezing(step);
        long trainable = model.Parameters().Where(p => !p.IsFrozen).Sum(p => p.Numel);
        var optimizer = new AdamW(new OptimizerSettings { Lr = 1e-5 }.ParamGroups(model.Parameters()));
        Console.WriteLine("  " + MixedPrecision.Describe(plan.Precision, device));
        SyntheticBatch batch = SyntheticBatch.Create(config, n, Tokens, seed: 2);
        using Tensor view1 = Tensor.FromArray(batch.View1, [n, 3, side, side], device);
        using Tensor view2 = Tensor.FromArray(batch.View2, [n, 3, side, side], device);
        using Tensor ids = Tensor.FromArray(batch.Ids, [n, Tokens], device);
        using Tensor mask = Tensor.FromArray(batch.Mask, [n, Tokens], device);
        var input = new MaMABatch(view1, ids, mask, view2);

        double engineMs = Time(steps, warmup, () =>
        {
            using (MixedPrecision.Scope(plan.Precision))
            {
                MaMAOutput output = model.Forward(input, step);
                output.Loss.Backward();
            }
            optimizer.Step();
            optimizer.ZeroGrad();
            device.Synchronize();
        }, "engine");
        Console.WriteLine($"  engine step {engineMs:F1} ms ({n / (engineMs / 1000):F2} pairs/s)");
        double? torchMs = null;
#if MAMA_TORCH
        if (vsTorch)
        {
            if (config.ActivationCheckpointing)
                Console.WriteLine("  note: the TorchSharp reference has no activation checkpointing, so it does one forward less than the engine here.");
            var twin = new TorchMaMA(config);
            twin.LoadEngineState(model.StateDict());
            twin.MarkTrainable(step);
            twin.train();
            var torchOptimizer = torch.optim.AdamW(twin.parameters().Where(p => p.requires_grad), lr: 1e-5, weight_decay: 0.1);
            using var tView1 = TorchBridge.ToTorch(view1);
            using var tView2 = TorchBridge.ToTorch(view2);
            using var tIds = TorchBridge.ToTorch(ids);
            using var tMask = TorchBridge.ToTorch(mask);
            torchMs = Time(steps, warmup, () =>
            {
                using var d = torch.NewDisposeScope();
                twin.Forward(tView1, tIds, tMask, tView2, step).Loss.backward();
                torchOptimizer.step();
                torchOptimizer.zero_grad();
            }, "torch");
            Console.WriteLine($"  torch step {torchMs:F1} ms ({n / (torchMs.Value / 1000):F2} pairs/s)");
        }
#endif
        _ = vsTorch;
        return new Row(plan.Name, n, config.ActivationCheckpointing, PrecisionName(plan.Precision), model.ParameterCount, trainable, engineMs, n / (engineMs / 1000),
            torchMs, torchMs is { } t ? n / (t / 1000) : null, device.PeakAllocatedBytes, Process.GetCurrentProcess().PeakWorkingSet64);
    }

    private static string PrecisionName(Precision p) => p == Precision.Bf16 ? "bf16" : "fp32";

    /// <summary>Median wall time of <paramref name="steps"/> runs after <paramref name="warmup"/> untimed ones; garbage collected between runs, outside the timer.</summary>
    private static double Time(int steps, int warmup, Action run, string what)
    {
        for (int i = 0; i < warmup; i++)
        {
            run();
            Collect();
            Console.WriteLine($"  {what} warm-up step {i + 1}/{warmup} done");
        }
        var times = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            long start = Stopwatch.GetTimestamp();
            run();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            Collect();
        }
        Array.Sort(times);
        return times[steps / 2];
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private static string Opt(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Ratio(Row r) => r.TorchStepMs is { } t ? (t / r.StepMs).ToString("F2", CultureInfo.InvariantCulture) : "-";
}
