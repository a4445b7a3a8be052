using System.Diagnostics;
using System.Text.Json;
using MaMA.Cli.Help;
using MaMA.Engine.Nn;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama bench load --model DIR [--make tiny|paper] [--drawn] [--device D] [--json FILE]</c>: the time
/// to load a model folder, in the parts <see cref="ModelFactory.Load(string, Device?)"/> runs (open and
/// checksum, build without drawing, strict load, finite check). <c>--make</c> first writes a MaMA
/// model drawn from seed 0 into DIR (paper: 10.8 GB); <c>--drawn</c> also times the way loads went
/// until weights stopped being drawn first: build with the weights drawn, then the strict load over
/// them. Each part starts from an empty allocator cache, so none reuses pages another touched.
/// </summary>
internal static class BenchLoadCommand
{
    private static readonly string Usage = HelpTexts.Usage("bench load");

    private sealed record Part(string Name, double Seconds);

    public static int Run(CommandLine cl)
    {
        Device device = DeviceOption.Read(cl);
        string? dir = cl.Get("model");
        string? make = cl.Get("make");
        bool drawn = cl.Flag("drawn");
        string? json = cl.Get("json");
        cl.RejectUnknown();
        if (cl.Positionals.Count != 1) throw new UsageException(Usage);
        if (string.IsNullOrWhiteSpace(dir))
            throw new UsageException("--model DIR is required: the model folder to load (with --make, the folder to write first).");
        if (cl.Has("make") && make is not ("tiny" or "paper"))
            throw new UsageException($"--make takes 'tiny' or 'paper' (a MaMA model drawn from seed 0), not '{make ?? ""}'.");
        if (make is not null && Path.Exists(dir))
            throw new UsageException($"--make writes a new folder, and {dir} exists; choose another --model or remove it.");
        if (make is null && !Directory.Exists(dir))
            throw new UsageException($"--model {dir}: no such folder (--make tiny|paper writes one).");
        if (json is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(json))))
            throw new UsageException($"--json {json}: its folder does not exist.");

        var parts = new List<Part>();
        if (make is not null)
        {
            MaMAConfig config = make == "paper" ? MaMAConfig.Paper : MaMAConfig.Tiny;
            Time(parts, device, $"make: draw MaMA {make} from seed 0 and save", () =>
            {
                ModelConfigFile file = ModelConfigFile.ForMaMA(config) with { Source = $"mama bench load --make {make}" };
                ModelDirectory.Save(dir, file, ModelFactory.Create(file).StateDict());
            });
        }

        // ModelFactory.Load's parts, each timed on its own, under one line with their sum.
        int loadRow = parts.Count;
        double load = 0;
        ModelCheckpoint? checkpoint = null;
        load += Time(parts, device, "open the folder, SHA-256 of the weights", () => checkpoint = ModelDirectory.Load(dir));
        using (checkpoint)
        {
            Module? model = null;
            load += Time(parts, device, "build without drawing", () => model = ModelFactory.CreateToLoad(checkpoint!.Config, device));
            load += Time(parts, device, "strict load", () => model!.LoadSafetensors(checkpoint!.Weights.Path, strict: true));
            load += Time(parts, device, "finite check", () => ModelFactory.CheckFinite(model!.StateDict(), checkpoint!.Weights.Path));
        }
        parts.Insert(loadRow, new Part("load: ModelFactory.Load, the four parts below", load));

        if (drawn)
        {
            using ModelCheckpoint again = ModelDirectory.Load(dir);
            Module? model = null;
            Time(parts, device, "before 2026-11-29: build with the weights drawn (seed 0)", () => model = ModelFactory.Create(again.Config, device: device));
            Time(parts, device, "before 2026-11-29: strict load over them", () => model!.LoadSafetensors(again.Weights.Path, strict: true));
        }

        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        Console.WriteLine($"mama bench load: {Path.GetFullPath(dir)} on {device.Name}");
        foreach (Part p in parts) Console.WriteLine($"  {p.Name,-58} {p.Seconds,8:F2} s");
        Console.WriteLine($"  peak working set {peak / 1e9:F1} GB (the memory-mapped weights' pages included)");
        if (json is not null)
        {
            File.WriteAllText(json, JsonSerializer.Serialize(new
            {
                model = Path.GetFullPath(dir), device = device.Name, parts = parts.Select(p => new { part = p.Name, seconds = p.Seconds }),
                peak_working_set_bytes = peak,
            }, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    /// <summary>Runs <paramref name="work"/> from an empty allocator cache (garbage of earlier parts collected first) and records its seconds.</summary>
    private static double Time(List<Part> parts, Device device, string name, Action work)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        device.EmptyCache();
        var clock = Stopwatch.StartNew();
        work();
        device.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        parts.Add(new Part(name, seconds));
        return seconds;
    }
}
