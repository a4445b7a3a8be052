using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// One named input of a benchmark case, drawn from N(0, 1) as fp32 and stored in
/// <paramref name="DType"/> (fp32 or bf16) before the timed region.
/// </summary>
/// <param name="Differentiable">Whether forward+backward asks for this input's gradient.</param>
public sealed record BenchInput(string Name, int[] Shape, DType DType = DType.Float32, bool Differentiable = true);
