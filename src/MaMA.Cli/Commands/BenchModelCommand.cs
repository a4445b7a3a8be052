using System.Diagnostics;
using System.Text.Json;
using MaMA.Cli.Help;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Text;
using MaMA.Model.Vision;
#if MAMA_TORCH
using MaMA.Interop.Torch;
using MaMA.Interop.Torch.Reference;
using TorchSharp;
#endif
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama bench model [--device D] [--quick] [--repeat N] [--model vit|text] [--json FILE] [--vs torch [--threads N]]</c>:
/// forward and training-step (forward + backward of a mean of the outputs) time of the paper's
/// encoders on random weights: the DINOv2 ViT-B/14-reg4 at 518x518 (batch 1) and one BioMedLM
/// block with LoRA (embeddings, block, ln_f) at 144 tokens, batch 4; with <c>--vs torch</c> the
/// TorchSharp reference modules with the same weights on the same CPU, and the ratio. Memory: the
/// engine allocator's peak (cumulative over the run) and the process's peak working set.
/// <c>--quick</c> uses tiny shapes (tests); <c>--model</c> times one of the two alone (the other's
/// allocations then do not shape its memory state).
/// </summary>
internal static class BenchModelCommand
{
    private static readonly string Usage = HelpTexts.Usage("bench model");

    /// <summary>One timed model: median milliseconds per phase, torch's when compared, peak memory after it ran.</summary>
    private sealed record Row(string Model, string Shape, double ForwardMs, double TrainStepMs, double? TorchForwardMs, double? TorchTrainStepMs,
                              long EnginePeakBytes, long ProcessPeakBytes, long SavedForBackwardBytes);

    public static int Run(CommandLine cl)
    {
        Device device = DeviceOption.Read(cl);
        int repeat = cl.GetInt("repeat", 3);
        (bool vsTorch, int threads) = BenchCommand.ReadVsTorch(cl);
        string? json = cl.Get("json");
        bool quick = cl.Flag("quick");
        // --image-batch 36 is the paper's per-GPU batch (tools/device-bench.sh); --bf16 runs both models under bf16 autocast.
        int imageBatch = cl.GetInt("image-batch", 1);
        bool bf16 = cl.Flag("bf16");
        string? model = cl.Get("model");
        cl.RejectUnknown();
        if (cl.Has("model") && model is not ("vit" or "text"))
            throw new UsageException($"--model takes 'vit' (the ViT-B/14) or 'text' (the BioMedLM block), not '{model ?? ""}'.");
        if (cl.Positionals.Count != 1) throw new UsageException(Usage);
        VisionConfig vit = quick ? VisionConfig.Tiny : VisionConfig.VitB14Reg4;
        if (imageBatch < 1) throw new UsageException("--image-batch must be at least 1.");
        if (model is null or "vit") CheckPixels(vit, imageBatch);
        if (repeat < 1) throw new UsageException("--repeat must be at least 1.");
        if (json is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(json))))
            throw new UsageException($"--json {json}: its folder does not exist.");
#if !MAMA_TORCH
        if (vsTorch)
            throw new UsageException("--vs torch needs TorchSharp, and this mama was built without it (-p:MamaWithTorch=false); run `bench model` without it here.");
#else
        if (vsTorch) torch.set_num_threads(threads);
#endif
        Gpt2Config text = (quick ? Gpt2Config.Tiny with { VocabSize = 1000 } : Gpt2Config.BioMedLM) with { NLayer = 1 };
        int tokens = quick ? 16 : 144, textBatch = quick ? 2 : 4;
        Console.WriteLine($"mama bench model on {device.Name}: random weights (timings do not depend on values), median of {repeat} after one warm-up run");
        using IDisposable? autocast = bf16 ? Autocast.Bf16() : null;
        var rows = new List<Row>();
        if (model is null or "vit") rows.Add(Vit(device, vit, imageBatch, repeat, vsTorch));
        if (model is null or "text") rows.Add(TextBlock(device, text, textBatch, tokens, repeat, vsTorch));
        Console.WriteLine();
        Console.WriteLine($"{"model",-34} {"forward ms",11} {"train ms",10} {"torch fwd",10} {"torch train",11} {"fwd x",6} {"train x",7} {"saved",10} {"engine peak",12} {"process peak",13}");
        foreach (Row r in rows)
            Console.WriteLine($"{r.Model + " " + r.Shape,-34} {r.ForwardMs,11:F1} {r.TrainStepMs,10:F1} {Opt(r.TorchForwardMs),10} {Opt(r.TorchTrainStepMs),11} "
                              + $"{Ratio(r.TorchForwardMs, r.ForwardMs),6} {Ratio(r.TorchTrainStepMs, r.TrainStepMs),7} {r.SavedForBackwardBytes / 1e6,7:F0} MB {r.EnginePeakBytes / 1e6,9:F0} MB {r.ProcessPeakBytes / 1e6,10:F0} MB");
        Console.WriteLine("x = torch time / engine time (> 1: engine faster). Saved: what the training forward leaves allocated for the backward (output included),");
        Console.WriteLine("measured after a full garbage collection. Engine peak is the allocator's high-water mark so far in the run (garbage not yet collected included).");
        if (json is not null)
        {
            File.WriteAllText(json, JsonSerializer.Serialize(new { device = device.Name, repeat, dtype = bf16 ? "bf16-autocast" : "fp32", threads = vsTorch ? threads : (int?)null, weights = "random", rows },
                new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    /// <summary>
    /// The ViT's pixel tensor [batch, 3, S, S] is filled from one .NET array, which holds at most
    /// <see cref="Array.MaxLength"/> elements (just under 2^31); a larger batch is a usage error
    /// naming the largest that fits, not an OverflowException halfway through the run.
    /// </summary>
    private static void CheckPixels(VisionConfig config, int batch)
    {
        long perImage = (long)config.InChannels * config.ImageSize * config.ImageSize;
        if (batch * perImage > Array.MaxLength)
            throw new UsageException($"--image-batch {batch} is too large: the {batch} x {config.InChannels} x {config.ImageSize} x {config.ImageSize} pixel tensor has {batch * perImage} elements, "
                                     + $"and a tensor's array holds at most {Array.MaxLength} (just under 2^31); the largest --image-batch here is {Array.MaxLength / perImage}.");
    }

    private static string Opt(double? ms) => ms is { } v ? v.ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : "-";

    private static string Ratio(double? torchMs, double engineMs) => torchMs is { } t ? (t / engineMs).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) : "-";

    private static Row Vit(Device device, VisionConfig config, int batch, int repeat, bool vsTorch)
    {
        string shape = $"{config.ImageSize}px b{batch}";
        Console.WriteLine($"ViT ({config.EmbedDim}d x {config.Depth}, {config.NumRegisters} registers) at {shape}: building");
        var model = new DinoVisionTransformer(config, new Random(1), device);
        Tensor pixels = Random([batch, config.InChannels, config.ImageSize, config.ImageSize], 2, device);
        double fwd = Time(repeat, () =>
        {
            using var _ = GradMode.NoGrad();
            model.Forward(pixels).XNorm.Dispose();
            device.Synchronize();
        });
        Console.WriteLine($"  engine forward {fwd:F1} ms");
        double train = Time(repeat, () => TrainStep(model, () => model.Forward(pixels).XNorm, device));
        Console.WriteLine($"  engine training step {train:F1} ms");
        long saved = SavedForBackward(model, () => model.Forward(pixels).XNorm, device);
        Console.WriteLine($"  saved for backward {saved / 1e6:F0} MB");
        double? tf = null, tt = null;
#if MAMA_TORCH
        if (vsTorch)
        {
            var twin = new TorchDinoV2(config);
            twin.LoadEngineState(model.StateDict());
            using var x = TorchBridge.ToTorch(pixels);
            (tf, tt) = TimeTorch(repeat, twin, () => twin.Forward(x).XNorm);
            Console.WriteLine($"  torch forward {tf:F1} ms, training step {tt:F1} ms");
        }
#endif
        return new Row("vit-b14-reg4", shape, fwd, train, tf, tt, device.PeakAllocatedBytes, Process.GetCurrentProcess().PeakWorkingSet64, saved);
    }

    private static Row TextBlock(Device device, Gpt2Config config, int batch, int tokens, int repeat, bool vsTorch)
    {
        string shape = $"{tokens} tokens b{batch}";
        Console.WriteLine($"GPT-2 block (C {config.NEmbd}, {config.NHead} heads, LoRA r {config.Lora?.Rank}) at {shape}: building");
        var model = new Gpt2Model(config, new Random(3), device);
        var rng = new Random(4);
        var ids = Tensor.FromArray(Enumerable.Range(0, batch * tokens).Select(_ => (long)rng.Next(config.VocabSize)).ToArray(), [batch, tokens], device);
        var mask = Tensor.FromArray(Enumerable.Repeat(1L, batch * tokens).ToArray(), [batch, tokens], device);
        double fwd = Time(repeat, () =>
        {
            using var _ = GradMode.NoGrad();
            model.Forward(ids, mask).Dispose();
            device.Synchronize();
        });
        Console.WriteLine($"  engine forward {fwd:F1} ms");
        double train = Time(repeat, () => TrainStep(model, () => model.Forward(ids, mask), device));
        Console.WriteLine($"  engine training step {train:F1} ms");
        long saved = SavedForBackward(model, () => model.Forward(ids, mask), device);
        Console.WriteLine($"  saved for backward {saved / 1e6:F0} MB");
        double? tf = null, tt = null;
#if MAMA_TORCH
        if (vsTorch)
        {
            var twin = new TorchGpt2(config);
            twin.LoadFrom(model.StateDict());
            twin.MarkTrainable();
            using var tIds = TorchBridge.ToTorch(ids);
            using var tMask = TorchBridge.ToTorch(mask);
            (tf, tt) = TimeTorch(repeat, twin, () => twin.Forward(tIds, tMask));
            Console.WriteLine($"  torch forward {tf:F1} ms, training step {tt:F1} ms");
        }
#endif
        return new Row("biomedlm-block-lora", shape, fwd, train, tf, tt, device.PeakAllocatedBytes, Process.GetCurrentProcess().PeakWorkingSet64, saved);
    }

    /// <summary>Forward in training mode, mean of the output, backward, gradients dropped.</summary>
    private static void TrainStep(Module model, Func<Tensor> forward, Device device)
    {
        model.Train();
        using (Tensor y = forward())
        using (Tensor loss = EngineOps.Mean(y))
            loss.Backward();
        model.ZeroGrad();
        device.Synchronize();
    }

    /// <summary>
    /// Bytes a training forward leaves allocated for its backward (the output included): the
    /// allocator's count after the forward minus before it, each after a full collection, so that
    /// garbage (tensors nobody holds, waiting for the finalizer) is not counted. The comparable
    /// PyTorch number is torch.cuda.memory_allocated() after the forward minus before.
    /// </summary>
    private static long SavedForBackward(Module model, Func<Tensor> forward, Device device)
    {
        model.Train();
        Collect(device);
        long before = device.AllocatedBytes;
        using Tensor y = forward();
        Collect(device);
        long saved = device.AllocatedBytes - before;
        using (Tensor loss = EngineOps.Mean(y))
            loss.Backward();
        model.ZeroGrad();
        device.Synchronize();
        return saved;
    }

    private static void Collect(Device device)
    {
        device.Synchronize();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>Median wall time of <paramref name="repeat"/> runs after one warm-up.</summary>
    private static double Time(int repeat, Action run)
    {
        run();
        var times = new double[repeat];
        for (int i = 0; i < repeat; i++)
        {
            // Earlier runs' garbage back to the allocator's cache first, as EngineTimer does.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long start = Stopwatch.GetTimestamp();
            run();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[repeat / 2];
    }

#if MAMA_TORCH
    private static (double Forward, double Train) TimeTorch(int repeat, torch.nn.Module module, Func<torch.Tensor> forward)
    {
        double fwd = Time(repeat, () =>
        {
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            module.eval();
            forward();
        });
        double train = Time(repeat, () =>
        {
            using var scope = torch.NewDisposeScope();
            module.train();
            forward().mean().backward();
            module.zero_grad();
        });
        return (fwd, train);
    }
#endif

    private static Tensor Random(int[] shape, int seed, Device device)
    {
        var rng = new Random(seed);
        var values = new float[Shape.Numel(shape)];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return Tensor.FromArray(values, shape, device);
    }
}
