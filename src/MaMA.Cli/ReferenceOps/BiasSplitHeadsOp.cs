using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>bias_split_heads</c>: y [B, T, S H D], optional bias [S H D], scalars <c>heads</c> (H) and
/// optional <c>parts</c> (S, default 3: q, k, v) -> <c>out</c> [S, B, H, T, D] = (y + bias) viewed as
/// [B, T, S, H, D] and permuted (2, 0, 3, 1, 4), the attention input of the ViT's qkv and GPT-2's
/// c_attn (docs/ops.md); without a bias, y alone split. Differentiable: y, bias.
/// </summary>
internal sealed class BiasSplitHeadsOp : IReferenceOp
{
    public string Name => "bias_split_heads";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["y", "bias"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor y = args.Tensor("y", rank: 3);
        Tensor? bias = args.Optional("bias", rank: 1);
        if (bias is not null) args.SameSize("bias", 0, "y", 2);
        float heads = args.Scalar("heads"), parts = args.Scalar("parts", 3f);
        if (heads < 1 || heads != MathF.Floor(heads) || parts < 1 || parts != MathF.Floor(parts))
            throw new UsageException($"bias_split_heads: 'heads' and 'parts' must be positive integers, got {heads} and {parts}.");
        int h = (int)heads, s = (int)parts;
        if (y.Size(2) % (h * s) != 0)
            throw new UsageException($"bias_split_heads: 'y' axis 2 has size {y.Size(2)}, not a multiple of parts x heads = {s * h}.");
        return new Dictionary<string, Tensor> { ["out"] = Ops.BiasSplitHeads(y, bias, s, h) };
    }
}
