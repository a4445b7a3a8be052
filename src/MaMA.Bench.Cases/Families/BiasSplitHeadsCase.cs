using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// The ViT attention's input: qkv's bias added in the pass that splits [B, T, 3 H D] into contiguous
/// [3, B, H, T, D] (<see cref="Ops.BiasSplitHeads"/>), at a training batch (36 x 1374 tokens, 12 heads
/// of 64, fp32), against PyTorch's <c>(y + b).view(B, T, 3, H, D).permute(2, 0, 3, 1, 4).contiguous()</c>
/// (eager: an add and a copy; compiled: fused). Memory-bound: no FLOPs counted. The unfused engine path
/// is the <see cref="QkvSplitCase"/> row plus a bias add.
/// </summary>
public sealed record BiasSplitHeadsCase(string Layer, int Batch, int Tokens, int Heads, int HeadDim) : BenchCase
{
    public override string Name => $"bias_split_heads {Layer} B={Batch} T={Tokens} H={Heads} D={HeadDim}";

    public override string Family => "bias_split_heads";

    public override BenchInput[] Inputs => [new("y", [Batch, Tokens, 3 * Heads * HeadDim]), new("bias", [3 * Heads * HeadDim])];

    public override long ForwardFlops => 0;

    public override long ForwardBackwardFlops => 0;

    public override Tensor Engine(Tensor[] x) => Ops.BiasSplitHeads(x[0], x[1], 3, Heads);

    protected override JsonObject Parameters() => new()
    {
        ["layer"] = Layer,
        ["batch"] = Batch,
        ["tokens"] = Tokens,
        ["heads"] = Heads,
        ["head_dim"] = HeadDim,
    };
}
