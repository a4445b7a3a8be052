using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// The ViT's LayerScale, x [Rows, C] * gamma [C] (fp32), over a training batch's tokens (36 x 1374
/// rows of 768): a broadcast multiply, whose backward is dy * gamma and a column sum of dy * x. On
/// an accelerator the engine's broadcast kernel takes its strides by value (<c>IndexMap</c>), two
/// coalesced axes here. Memory-bound: no FLOPs are counted (TFLOP/s read n/a).
/// </summary>
public sealed record LayerScaleCase(string Layer, int Rows, int C) : BenchCase
{
    public override string Name => $"layer_scale {Layer} rows={Rows} C={C}";

    public override string Family => "layer_scale";

    public override BenchInput[] Inputs => [new("x", [Rows, C]), new("gamma", [C])];

    public override long ForwardFlops => 0;

    public override long ForwardBackwardFlops => 0;

    public override Tensor Engine(Tensor[] x) => Ops.Mul(x[0], x[1]);

    protected override JsonObject Parameters() => new()
    {
        ["layer"] = Layer,
        ["rows"] = Rows,
        ["c"] = C,
    };
}
