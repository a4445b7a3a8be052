using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>lora_linear</c>: x [M, in], weight [in, out] (Conv1D layout, frozen), bias [out],
/// lora_a [r, in], lora_b [out, r], scalar <c>scaling</c> -> <c>out</c> [M, out] =
/// x weight + bias + scaling * (x lora_a^T) lora_b^T (dropout off). Differentiable: x, bias, lora_a, lora_b.
/// </summary>
internal sealed class LoraLinearOp : IReferenceOp
{
    public string Name => "lora_linear";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["x", "bias", "lora_a", "lora_b"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor x = args.Tensor("x", rank: 2);
        Tensor weight = args.Tensor("weight", rank: 2);
        Tensor bias = args.Tensor("bias", rank: 1);
        Tensor a = args.Tensor("lora_a", rank: 2);
        Tensor b = args.Tensor("lora_b", rank: 2);
        float scaling = args.Scalar("scaling");
        args.SameSize("x", 1, "weight", 0);
        args.SameSize("bias", 0, "weight", 1);
        args.SameSize("lora_a", 1, "weight", 0);
        args.SameSize("lora_b", 0, "weight", 1);
        args.SameSize("lora_b", 1, "lora_a", 0);
        return new Dictionary<string, Tensor> { ["out"] = Ops.LoraLinear(x, weight, bias, a, b, scaling, WeightLayout.Conv1D) };
    }
}
