namespace MaMA.Bench.Cases;

/// <summary>
/// One row of a benchmark report: medians in milliseconds, FLOPs per run and the engine's
/// throughput. Torch columns are null when libtorch was not timed; family, dtype (fp32 or bf16) and FLOPs are null
/// for cases that do not count them (MaMA.Bench's base ops).
/// </summary>
public sealed record BenchResult(
    string Op,
    string? Family,
    string? Dtype,
    double EngineForwardMs,
    double EngineForwardBackwardMs,
    double? TorchForwardMs,
    double? TorchForwardBackwardMs,
    long? ForwardFlops,
    long? ForwardBackwardFlops)
{
    public double? EngineForwardTflops => Tflops(ForwardFlops, EngineForwardMs);

    public double? EngineForwardBackwardTflops => Tflops(ForwardBackwardFlops, EngineForwardBackwardMs);

    /// <summary>FLOPs / time in units of 10^12 per second (null without a positive count, as for memory-bound cases, or a positive time).</summary>
    public static double? Tflops(long? flops, double ms) => flops is > 0 and { } f && ms > 0 ? f / (ms * 1e-3) / 1e12 : null;
}
