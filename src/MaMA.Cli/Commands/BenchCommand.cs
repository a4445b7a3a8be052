#if MAMA_TORCH
using MaMA.Interop.Torch.Parity;
using TorchSharp;
#endif
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama bench ops [--vs torch] [--device D] [--repeat N] [--threads N] [--json FILE] [--only TEXT]</c>:
/// times the four MaMA kernel families (attention, LoRA linear, SLA, CLIP and NT-Xent) at the
/// paper's shapes, forward and forward+backward; with <c>--vs torch</c> also in TorchSharp
/// (libtorch) on this CPU in the same process, with the speed ratio.
/// </summary>
internal static class BenchCommand
{
    public static int Run(CommandLine cl)
    {
        if (cl.Positionals.Count != 1 || cl.Positionals[0] != "ops")
            throw new UsageException("usage: mama bench ops [--vs torch] [--device D] [--repeat N] [--threads N] [--json FILE] [--only TEXT]");
        string? vs = cl.Get("vs");
        if (vs is not null && vs != "torch") throw new UsageException($"--vs takes 'torch', not '{vs}'.");
        Device device = DeviceOption.Read(cl);
        int repeat = cl.GetInt("repeat", 5);
        int threads = cl.GetInt("threads", Environment.ProcessorCount);
        string? json = cl.Get("json");
        string? only = cl.Get("only");
        cl.RejectUnknown();
        if (repeat < 1) throw new UsageException("--repeat must be at least 1.");
#if MAMA_TORCH
        if (vs is not null) torch.set_num_threads(threads);
        var runner = new BenchRunner(device, repeat, compareTorch: vs is not null, Console.Out);
        IReadOnlyList<BenchRow> rows = runner.Run(FamilyBench.All, only);
        if (rows.Count == 0) throw new UsageException(only is null ? "no benchmark cases are registered in this build." : $"no benchmark case matches '{only}'.");
        if (json is not null)
        {
            runner.WriteJson(json, rows);
            Console.WriteLine($"wrote {json}");
        }
        return 0;
#else
        _ = (device, threads, json, only);
        throw new UsageException("this mama was published without TorchSharp (-p:MamaWithTorch=false); run `dotnet run --project src/MaMA.Cli -c Release -- bench ops` from a source checkout, or tools/device-bench.sh on a GPU machine.");
#endif
    }
}
