using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// The ViT MLP's fc1 epilogue, GELU_erf(y + b) over a training batch's tokens (36 x 1374 rows of
/// 3072, fp32): the engine's fused <see cref="Ops.BiasGelu"/>, one pass where an add and a GELU
/// were two, against PyTorch's <c>F.gelu(y + b)</c> (eager: two kernels; compiled: fused). The
/// backward recomputes y + b and sums the bias gradient over rows. Memory-bound: no FLOPs counted.
/// </summary>
public sealed record BiasGeluCase(string Layer, int Rows, int C) : BenchCase
{
    public override string Name => $"bias_gelu {Layer} rows={Rows} C={C}";

    public override string Family => "bias_gelu";

    public override BenchInput[] Inputs => [new("y", [Rows, C]), new("bias", [C])];

    public override long ForwardFlops => 0;

    public override long ForwardBackwardFlops => 0;

    public override Tensor Engine(Tensor[] x) => Ops.BiasGelu(x[0], x[1], GeluForm.Erf);

    protected override JsonObject Parameters() => new()
    {
        ["layer"] = Layer,
        ["rows"] = Rows,
        ["c"] = C,
    };
}
