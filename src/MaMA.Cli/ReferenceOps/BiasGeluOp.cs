using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>bias_gelu</c>: y [..., C], bias [C], optional scalar <c>tanh</c> (nonzero: GPT-2's tanh form;
/// default 0, the exact erf form of the ViT) -> <c>out</c> [..., C] = GELU(y + bias), the fused
/// linear epilogue of the MLPs (docs/ops.md). Differentiable: y, bias.
/// </summary>
internal sealed class BiasGeluOp : IReferenceOp
{
    public string Name => "bias_gelu";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["y", "bias"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor y = args.Tensor("y");
        if (y.Rank == 0) throw new UsageException("bias_gelu: 'y' must have at least one axis (the channels last).");
        Tensor bias = args.Tensor("bias", rank: 1);
        args.SameSize("bias", 0, "y", y.Rank - 1);
        GeluForm form = args.Scalar("tanh", 0f) != 0f ? GeluForm.Tanh : GeluForm.Erf;
        return new Dictionary<string, Tensor> { ["out"] = Ops.BiasGelu(y, bias, form) };
    }
}
