using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>scaled_residual</c>: residual and branch [..., C], bias [C] and optional gamma [C] -> <c>out</c>
/// [..., C] = residual + gamma (branch + bias), a transformer block's residual update through
/// LayerScale (without gamma: GPT-2's residual + c_proj), fused (docs/ops.md). Differentiable: all.
/// </summary>
internal sealed class ScaledResidualOp : IReferenceOp
{
    public string Name => "scaled_residual";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["residual", "branch", "bias", "gamma"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor residual = args.Tensor("residual");
        if (residual.Rank == 0) throw new UsageException("scaled_residual: 'residual' must have at least one axis (the channels last).");
        Tensor branch = args.Tensor("branch", rank: residual.Rank);
        for (int axis = 0; axis < residual.Rank; axis++) args.SameSize("branch", axis, "residual", axis);
        Tensor bias = args.Tensor("bias", rank: 1);
        Tensor? gamma = args.Optional("gamma", rank: 1);
        args.SameSize("bias", 0, "residual", residual.Rank - 1);
        if (gamma is not null) args.SameSize("gamma", 0, "residual", residual.Rank - 1);
        return new Dictionary<string, Tensor> { ["out"] = Ops.ScaledResidual(residual, branch, bias, gamma) };
    }
}
