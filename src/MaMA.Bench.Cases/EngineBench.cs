using MaMA.Engine.Devices;

namespace MaMA.Bench.Cases;

/// <summary>
/// Times family cases in the engine alone (no libtorch): forward and forward+backward, median of
/// <paramref name="repeat"/> runs after a warm-up, inputs from <see cref="BenchData"/> with seed 7.
/// </summary>
public sealed class EngineBench(Device device, int repeat, TextWriter output)
{
    /// <summary>Seed of every case's inputs (the same as the torch comparison's).</summary>
    public const int Seed = 7;

    /// <param name="only">Keeps the cases whose name contains this text (case-insensitive); null keeps all.</param>
    public IReadOnlyList<BenchResult> Run(IEnumerable<BenchCase> cases, string? only = null)
    {
        var console = new BenchConsole(output, compareTorch: false);
        console.Header($"engine: {device.Name}; median of {repeat} after 1 warm-up");
        var rows = new List<BenchResult>();
        foreach (BenchCase c in Filter(cases, only))
        {
            BenchData data = BenchData.Generate(c, Seed);
            bool[] differentiable = c.Inputs.Select(i => i.Differentiable).ToArray();
            double Time(bool backward) => EngineTimer.Median(repeat, () => EngineTimer.Time(device, c.Engine, i => data.EngineInput(i, device), differentiable, backward));
            double forward = Time(backward: false), forwardBackward = Time(backward: true);
            var row = new BenchResult(c.Name, c.Family, c.DTypeName, forward * 1e3, forwardBackward * 1e3, null, null, c.ForwardFlops, c.ForwardBackwardFlops);
            rows.Add(row);
            console.Row(row);
        }
        console.Footer();
        return rows;
    }

    /// <summary>The cases whose name contains <paramref name="only"/> (all when null).</summary>
    public static IEnumerable<BenchCase> Filter(IEnumerable<BenchCase> cases, string? only) =>
        only is null ? cases : cases.Where(c => c.Name.Contains(only, StringComparison.OrdinalIgnoreCase));
}
