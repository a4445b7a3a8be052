using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>layer_norm</c>: x [..., C], optional weight [C] and bias [C], optional scalar <c>eps</c>
/// (default 1e-5; the ViT uses 1e-6) -> <c>out</c> [..., C] = (x - mean) / sqrt(var + eps) * weight + bias
/// over the last axis (biased variance), as torch.nn.functional.layer_norm. Differentiable: x, weight, bias.
/// On CUDA the engine runs a warp per row (docs/gpu-kernels.md), so the device parity check covers it.
/// </summary>
internal sealed class LayerNormOp : IReferenceOp
{
    public string Name => "layer_norm";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["x", "weight", "bias"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor x = args.Tensor("x");
        if (x.Rank == 0) throw new UsageException("layer_norm: 'x' must have at least one axis (the normalised one last).");
        Tensor? weight = args.Optional("weight", rank: 1), bias = args.Optional("bias", rank: 1);
        if (weight is not null) args.SameSize("weight", 0, "x", x.Rank - 1);
        if (bias is not null) args.SameSize("bias", 0, "x", x.Rank - 1);
        float eps = args.Scalar("eps", 1e-5f);
        if (!(eps >= 0f)) throw new UsageException($"layer_norm: 'eps' must be non-negative, got {eps}.");
        return new Dictionary<string, Tensor> { ["out"] = Ops.LayerNorm(x, weight, bias, eps) };
    }
}
