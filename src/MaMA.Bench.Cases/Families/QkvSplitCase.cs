using System.Text.Json.Nodes;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// The ViT attention's head split as a copy: qkv [B, T, 3 H D] viewed as [B, T, 3, H, D], permuted
/// to [3, B, H, T, D] and made contiguous (fp32), at a training batch (B 36, T 1374, H 12, D 64).
/// Its backward permutes the gradient back, another strided copy. On an accelerator both are the
/// engine's strided-copy kernel with the strides by value (<c>IndexMap</c>: five axes, none
/// mergeable). Memory-bound: no FLOPs are counted (TFLOP/s read n/a).
/// </summary>
public sealed record QkvSplitCase(string Layer, int Batch, int Tokens, int Heads, int HeadDim) : BenchCase
{
    public override string Name => $"qkv_split {Layer} B={Batch} T={Tokens} H={Heads} D={HeadDim}";

    public override string Family => "qkv_split";

    public override BenchInput[] Inputs => [new("qkv", [Batch, Tokens, 3 * Heads * HeadDim])];

    public override long ForwardFlops => 0;

    public override long ForwardBackwardFlops => 0;

    public override Tensor Engine(Tensor[] x) =>
        x[0].Reshape(Batch, Tokens, 3, Heads, HeadDim).Permute(2, 0, 3, 1, 4).Contiguous();

    protected override JsonObject Parameters() => new()
    {
        ["layer"] = Layer,
        ["batch"] = Batch,
        ["tokens"] = Tokens,
        ["heads"] = Heads,
        ["head_dim"] = HeadDim,
    };
}
