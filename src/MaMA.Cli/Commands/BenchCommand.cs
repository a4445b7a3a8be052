using MaMA.Bench.Cases;
using MaMA.Cli.Help;
#if MAMA_TORCH
using MaMA.Interop.Torch.Parity;
using TorchSharp;
#endif
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama bench ops [--device D] [--quick] [--repeat N] [--json FILE] [--only TEXT] [--vs torch [--threads N]]</c>:
/// times the four MaMA kernel families (attention, LoRA linear, SLA, CLIP and NT-Xent) at the
/// paper's shapes (or tiny ones with <c>--quick</c>), forward and forward+backward, with FLOPs and
/// the engine's TFLOP/s. The engine side (MaMA.Bench.Cases) needs no TorchSharp, so the single-file
/// publish for GPU machines has it; <c>--vs torch</c> also times TorchSharp (libtorch) on this CPU
/// in the same process, with the speed ratio, in builds that include TorchSharp.
/// </summary>
internal static class BenchCommand
{
    /// <summary>The three actions' usage lines, from their help texts so the two cannot disagree.</summary>
    private static readonly string Usage = "usage: mama bench ops|model|train|load [options]\n"
                                           + string.Join("\n", new[] { "bench ops", "bench model", "bench train", "bench load" }.Select(a => "  " + HelpTexts.Usage(a)["usage: ".Length..]));

    public static int Run(CommandLine cl)
    {
        if (cl.Positionals is ["model"]) return BenchModelCommand.Run(cl);
        if (cl.Positionals is ["train"]) return BenchTrainCommand.Run(cl);
        if (cl.Positionals is ["load"]) return BenchLoadCommand.Run(cl);
        if (cl.Positionals.Count != 1 || cl.Positionals[0] != "ops")
            throw new UsageException(Usage);
        Device device = DeviceOption.Read(cl);
        int repeat = cl.GetInt("repeat", 5);
        (bool vsTorch, int threads) = ReadVsTorch(cl);
        string? json = cl.Get("json");
        string? only = cl.Get("only");
        bool quick = cl.Flag("quick");
        cl.RejectUnknown();
        if (repeat < 1) throw new UsageException("--repeat must be at least 1.");
        if (json is not null)
        {
            string dir = Path.GetDirectoryName(Path.GetFullPath(json))!;
            if (!Directory.Exists(dir)) throw new UsageException($"--json {json}: folder '{dir}' does not exist; create it first.");
        }
        BenchShapes shapes = quick ? BenchShapes.Quick : BenchShapes.Paper;
        IReadOnlyList<BenchCase> cases = FamilyCases.Get(shapes);
        if (only is not null && !EngineBench.Filter(cases, only).Any())
            throw new UsageException($"no benchmark case matches '{only}'. Cases: {string.Join("; ", cases.Select(c => c.Name))}.");

        if (vsTorch)
        {
#if MAMA_TORCH
            torch.set_num_threads(threads);
            var runner = new BenchRunner(device, repeat, compareTorch: true, Console.Out);
            IReadOnlyList<BenchRow> torchRows = runner.Run(cases, only);
            if (json is not null)
            {
                runner.WriteJson(json, torchRows, shapes);
                Console.WriteLine($"wrote {json}");
            }
            return 0;
#else
            throw new UsageException("--vs torch needs TorchSharp, and this mama was built without it (-p:MamaWithTorch=false). "
                                     + "Run `bench ops` without --vs torch here, use tools/device-bench.sh to compare with PyTorch on a GPU machine, "
                                     + "or `dotnet run --project src/MaMA.Cli -c Release -- bench ops --vs torch` from a source checkout.");
#endif
        }

        IReadOnlyList<BenchResult> rows = new EngineBench(device, repeat, Console.Out).Run(cases, only);
        if (json is not null)
        {
            BenchReport.Create(device.Name, null, null, repeat, shapes, rows).Write(json);
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    /// <summary>
    /// <c>--vs torch [--threads N]</c>, checked the same way for the three actions: --vs takes only
    /// torch, --threads needs it, and N is at least 1 (libtorch's set_num_threads(0) aborts the
    /// process in native code, with no exception to report).
    /// </summary>
    internal static (bool VsTorch, int Threads) ReadVsTorch(CommandLine cl)
    {
        bool vsTorch = cl.Has("vs");
        string? vs = cl.Get("vs");
        bool threadsGiven = cl.Has("threads");
        int threads = cl.GetInt("threads", Environment.ProcessorCount);
        if (vsTorch && vs != "torch") throw new UsageException($"--vs takes 'torch', not '{vs ?? ""}'.");
        if (threadsGiven && !vsTorch) throw new UsageException("--threads sets libtorch's CPU threads; it needs --vs torch.");
        if (threads < 1) throw new UsageException($"--threads must be at least 1, got {threads}.");
        return (vsTorch, threads);
    }
}
