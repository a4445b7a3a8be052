using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// GPT-2's attention-probability dropout in training (attn_pdrop, 0.1 in BioMedLM) over the BioMedLM
/// layer's probabilities [B, H, T, T]: a counter-based (Philox) keep-mask and a multiply forward, the
/// same mask regenerated over dy backward. The engine and libtorch draw different masks (each its own
/// generator) at the same keep rate. Memory-bound plus the generator's arithmetic: no FLOPs are
/// counted (TFLOP/s read n/a).
/// </summary>
public sealed record DropoutCase(string Layer, int Batch, int Heads, int Tokens, float P) : BenchCase
{
    public override string Name => $"dropout {Layer} B={Batch} H={Heads} T={Tokens} p={P.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    public override string Family => "dropout";

    public override BenchInput[] Inputs => [new("x", [Batch, Heads, Tokens, Tokens])];

    public override long ForwardFlops => 0;

    public override long ForwardBackwardFlops => 0;

    public override Tensor Engine(Tensor[] x) => Ops.Dropout(x[0], P, seed: 1234, offset: 0, training: true);

    protected override JsonObject Parameters() => new()
    {
        ["layer"] = Layer,
        ["batch"] = Batch,
        ["heads"] = Heads,
        ["tokens"] = Tokens,
        ["p"] = P,
    };
}
