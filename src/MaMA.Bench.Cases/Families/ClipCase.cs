using System.Text.Json.Nodes;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// CLIP loss over image and text embeddings [N, E] and a 0-d log-scale (used as drawn). FLOPs:
/// forward the logits v t^T, 2 N^2 E; backward dv = G t and dt = G^T v, 4 N^2 E.
/// </summary>
public sealed record ClipCase(int Pairs, int Embed) : BenchCase
{
    public override string Name => $"clip_loss N{Pairs} E{Embed}";

    public override string Family => "clip_loss";

    public override BenchInput[] Inputs => [new("image", [Pairs, Embed]), new("text", [Pairs, Embed]), new("logit_scale", [])];

    public override long ForwardFlops => 2L * Pairs * Pairs * Embed;

    public override long ForwardBackwardFlops => 6L * Pairs * Pairs * Embed;

    public override Tensor Engine(Tensor[] x) => Losses.ClipLoss(x[0], x[1], x[2]);

    protected override JsonObject Parameters() => new() { ["pairs"] = Pairs, ["embed"] = Embed };
}
