namespace MaMA.Bench.Cases;

/// <summary>
/// The console table of a benchmark run: engine columns with TFLOP/s, or engine against libtorch
/// with the ratio torch time / engine time (&gt; 1: the engine is faster).
/// </summary>
public sealed class BenchConsole(TextWriter output, bool compareTorch)
{
    private const int NameWidth = 52;

    public void Header(string description)
    {
        output.WriteLine(description);
        output.WriteLine(compareTorch
            ? $"{"op",-NameWidth} {"engine fwd",11} {"torch fwd",11} {"ratio",6} {"engine f+b",11} {"torch f+b",11} {"ratio",6}"
            : $"{"op",-NameWidth} {"engine fwd",11} {"TFLOP/s",8} {"engine f+b",11} {"TFLOP/s",8}");
    }

    public void Row(BenchResult r)
    {
        output.WriteLine(compareTorch && r.TorchForwardMs is { } tf && r.TorchForwardBackwardMs is { } tb
            ? $"{r.Op,-NameWidth} {Ms(r.EngineForwardMs),11} {Ms(tf),11} {tf / r.EngineForwardMs,6:F2} {Ms(r.EngineForwardBackwardMs),11} {Ms(tb),11} {tb / r.EngineForwardBackwardMs,6:F2}"
            : $"{r.Op,-NameWidth} {Ms(r.EngineForwardMs),11} {Tflops(r.EngineForwardTflops),8} {Ms(r.EngineForwardBackwardMs),11} {Tflops(r.EngineForwardBackwardTflops),8}");
    }

    public void Footer()
    {
        if (compareTorch) output.WriteLine("ratio = torch time / engine time (> 1: the engine is faster)");
    }

    private static string Ms(double ms) => $"{ms:F2} ms";

    private static string Tflops(double? t) => t switch { null => "-", < 10 => $"{t:F3}", _ => $"{t:F1}" };
}
