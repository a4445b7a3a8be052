using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// Layer norm over the last axis of x [Rows, C] with weight and bias, fp32: the ViT-B/14's norm1 /
/// norm2 over a training batch's tokens (36 x 1374 rows of 768, eps 1e-6). On CUDA the engine runs a
/// warp per row (LayerNormWarp), PyTorch F.layer_norm. Memory-bound, with no matrix product: no FLOPs
/// are counted (the TFLOP/s columns read n/a), and the time ratio is the row's measure.
/// </summary>
public sealed record LayerNormCase(string Layer, int Rows, int C, double Eps) : BenchCase
{
    public override string Name => $"layer_norm {Layer} rows={Rows} C={C}";

    public override string Family => "layer_norm";

    public override BenchInput[] Inputs => [new("x", [Rows, C]), new("weight", [C]), new("bias", [C])];

    public override long ForwardFlops => 0;

    public override long ForwardBackwardFlops => 0;

    public override Tensor Engine(Tensor[] x) => Ops.LayerNorm(x[0], x[1], x[2], (float)Eps);

    protected override JsonObject Parameters() => new()
    {
        ["layer"] = Layer,
        ["rows"] = Rows,
        ["c"] = C,
        ["eps"] = Eps,
    };
}
