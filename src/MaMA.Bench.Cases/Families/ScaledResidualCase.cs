using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// The ViT block's residual update through LayerScale, residual + gamma (branch + bias), over a
/// training batch's tokens (36 x 1374 rows of 768, fp32): the engine's fused
/// <see cref="Ops.ScaledResidual"/>, one pass, against PyTorch's <c>residual + gamma * (branch + bias)</c>
/// (eager: three kernels; compiled: fused). Gradients for all four inputs. Memory-bound: no FLOPs counted.
/// </summary>
public sealed record ScaledResidualCase(string Layer, int Rows, int C) : BenchCase
{
    public override string Name => $"scaled_residual {Layer} rows={Rows} C={C}";

    public override string Family => "scaled_residual";

    public override BenchInput[] Inputs => [new("residual", [Rows, C]), new("branch", [Rows, C]), new("bias", [C]), new("gamma", [C])];

    public override long ForwardFlops => 0;

    public override long ForwardBackwardFlops => 0;

    public override Tensor Engine(Tensor[] x) => Ops.ScaledResidual(x[0], x[1], x[2], x[3]);

    protected override JsonObject Parameters() => new()
    {
        ["layer"] = Layer,
        ["rows"] = Rows,
        ["c"] = C,
    };
}
