using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// LoRA linear with a Conv1D (GPT-2) base weight: y = x W + b + scaling (x A^T) B^T, x [M, in],
/// W [in, out] and b [out] frozen (no gradient), A [r, in], B [out, r]; gradients to x, A and B.
/// FLOPs: forward 2 M in out (base) + 2 M r (in + out) (low rank); backward dx = dy W^T
/// (2 M out in) plus 4 M r (in + out) for the low-rank pair (dB, d(xA^T), dA, dx).
/// </summary>
public sealed record LoraCase(int Tokens, int InFeatures, int OutFeatures, int Rank, float Scaling) : BenchCase
{
    public override string Name => $"lora_linear c_attn M={Tokens} in={InFeatures} out={OutFeatures} r={Rank}";

    public override string Family => "lora_linear";

    public override BenchInput[] Inputs =>
    [
        new("x", [Tokens, InFeatures]),
        new("weight", [InFeatures, OutFeatures], Differentiable: false),
        new("bias", [OutFeatures], Differentiable: false),
        new("lora_a", [Rank, InFeatures]),
        new("lora_b", [OutFeatures, Rank]),
    ];

    private long LowRank => 2L * Tokens * Rank * (InFeatures + OutFeatures);

    public override long ForwardFlops => 2L * Tokens * InFeatures * OutFeatures + LowRank;

    public override long ForwardBackwardFlops => 4L * Tokens * InFeatures * OutFeatures + 3 * LowRank;

    public override Tensor Engine(Tensor[] x) => Ops.LoraLinear(x[0], x[1], x[2], x[3], x[4], Scaling, WeightLayout.Conv1D);

    protected override JsonObject Parameters() => new()
    {
        ["tokens"] = Tokens,
        ["in_features"] = InFeatures,
        ["out_features"] = OutFeatures,
        ["rank"] = Rank,
        ["scaling"] = Scaling,
    };
}
