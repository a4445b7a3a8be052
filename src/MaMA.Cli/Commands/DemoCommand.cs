using MaMA.Cli.Demo;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama demo [--out DIR] [--device D] [--seed N] [--studies N] [--steps N]</c>: the main job on
/// built-in data (<see cref="DemoPipeline"/>): synthetic phantoms, MaMA pre-training with every loss
/// term, zero-shot density and BI-RADS, linear probes, <c>DIR/report.json</c> and pictures
/// (default DIR <c>runs/demo</c>). <c>--steps</c> keeps the late-loss step at the same share of the run.
/// </summary>
internal static class DemoCommand
{
    public static int Run(CommandLine cl)
    {
        var defaults = new DemoSettings();
        string outDir = cl.Get("out", Path.Combine("runs", "demo"));
        Device device = DeviceOption.Read(cl);
        int seed = cl.GetInt("seed", 0);
        int studies = cl.GetInt("studies", defaults.Studies);
        long steps = cl.GetInt("steps", (int)defaults.Steps);
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        if (seed < 0) throw new UsageException($"--seed must be >= 0, not {seed}.");
        if (studies < 8) throw new UsageException($"--studies must be at least 8, not {studies}.");
        if (steps < 2) throw new UsageException($"--steps must be at least 2, not {steps}.");
        long late = Math.Clamp(defaults.Model.LateLossStep * steps / defaults.Steps, 0, steps - 1);
        var settings = defaults with
        {
            Seed = (ulong)seed,
            Studies = studies,
            Steps = steps,
            WarmupSteps = Math.Min(defaults.WarmupSteps, steps / 10),
            Model = defaults.Model with { LateLossStep = late },
        };

        Console.WriteLine($"mama demo on {device.Name} -> {Path.GetFullPath(outDir)}");
        DemoResult result = new DemoPipeline(settings, device).Run(outDir);
        Console.WriteLine();
        foreach (string line in DemoSummary.Lines(result)) Console.WriteLine(line);
        return 0;
    }
}
