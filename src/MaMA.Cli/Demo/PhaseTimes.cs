using System.Diagnostics;

namespace MaMA.Cli.Demo;

/// <summary>
/// Wall and CPU seconds of each demo phase. CPU time is the process's (all threads): on a shared,
/// loaded machine the wall time says little, and CPU time is what another machine would need.
/// </summary>
public sealed class PhaseTimes
{
    private readonly List<(string Name, double WallSeconds, double CpuSeconds)> _phases = [];
    private readonly Stopwatch _total = Stopwatch.StartNew();
    private readonly TimeSpan _cpuAtStart = CpuNow();

    public IReadOnlyList<(string Name, double WallSeconds, double CpuSeconds)> Phases => _phases;

    public double TotalWallSeconds => _total.Elapsed.TotalSeconds;

    public double TotalCpuSeconds => (CpuNow() - _cpuAtStart).TotalSeconds;

    /// <summary>Runs <paramref name="phase"/> and records its times under <paramref name="name"/>.</summary>
    public T Measure<T>(string name, Func<T> phase)
    {
        var wall = Stopwatch.StartNew();
        TimeSpan cpu = CpuNow();
        T result = phase();
        _phases.Add((name, wall.Elapsed.TotalSeconds, (CpuNow() - cpu).TotalSeconds));
        return result;
    }

    private static TimeSpan CpuNow()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }
}
