using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Nn;

/// <summary>
/// y = x W^T + b, as torch.nn.Linear: weight [out, in], bias [out] (no weight decay). Initialised
/// like PyTorch's reset_parameters: kaiming_uniform(a = sqrt 5) for the weight, which is
/// U(-1/sqrt(in), 1/sqrt(in)), and the same bound for the bias, drawn from <paramref name="rng"/>.
/// </summary>
public sealed class Linear : Module
{
    public Linear(int inFeatures, int outFeatures, Random rng, bool bias = true, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        double bound = inFeatures > 0 ? 1.0 / Math.Sqrt(inFeatures) : 0.0;
        Weight = RegisterParameter("weight", WeightInit.Uniform(rng, [outFeatures, inFeatures], bound, device));
        if (bias)
            Bias = RegisterParameter("bias", WeightInit.Uniform(rng, [outFeatures], bound, device), noWeightDecay: true);
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    public Parameter Weight { get; }

    public Parameter? Bias { get; }

    /// <summary>x [..., in] -> [..., out].</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank == 0 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Linear({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} does not end in {InFeatures}.", nameof(x));
        Tensor x2 = x.Rank == 1 ? x.Reshape(1, InFeatures) : x;
        Tensor y = Ops.MatMul(x2, Weight, transposeB: true);
        if (Bias is not null) y = Ops.Add(y, Bias);
        return x.Rank == 1 ? y.Reshape(OutFeatures) : y;
    }

    /// <summary>
    /// GELU(x W^T + b), x [..., in] -> [..., out]: the bias add runs inside the GELU pass
    /// (<see cref="Ops.BiasGelu"/>), so the pre-activation is never written; same values as
    /// <c>Ops.Gelu(Forward(x), form)</c>.
    /// </summary>
    public Tensor ForwardGelu(Tensor x, GeluForm form)
    {
        if (Bias is null) return Ops.Gelu(Forward(x), form);
        if (x.Rank == 0 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Linear({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} does not end in {InFeatures}.", nameof(x));
        Tensor x2 = x.Rank == 1 ? x.Reshape(1, InFeatures) : x;
        Tensor y = Ops.BiasGelu(Ops.MatMul(x2, Weight, transposeB: true), Bias, form);
        return x.Rank == 1 ? y.Reshape(OutFeatures) : y;
    }

    /// <summary>
    /// residual + gamma (x W^T + b), x [..., in] -> [..., out] with residual [..., out] and gamma
    /// [out]: a residual branch ending in this layer and a LayerScale, the bias add, the scale and
    /// the residual add in one pass (<see cref="Ops.ScaledResidual"/>); same values as
    /// <c>Ops.Add(residual, Ops.Mul(Forward(x), gamma))</c>.
    /// </summary>
    public Tensor ForwardScaledResidual(Tensor x, Tensor residual, Tensor gamma)
    {
        ArgumentNullException.ThrowIfNull(residual);
        if (Bias is null) return Ops.Add(residual, Ops.Mul(Forward(x), gamma));
        if (x.Rank < 2 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Linear({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} is not [..., {InFeatures}].", nameof(x));
        return Ops.ScaledResidual(residual, Ops.MatMul(x, Weight, transposeB: true), Bias, gamma);
    }

    /// <summary>
    /// A fused attention projection's heads: x [B, T, in] -> [S, B, H, T, D] contiguous (out = S H D),
    /// the bias added in the same pass that splits the heads (<see cref="Ops.BiasSplitHeads"/>); same
    /// values as <c>Forward(x)</c> reshaped to [B, T, S, H, D] and permuted (2, 0, 3, 1, 4).
    /// </summary>
    public Tensor ForwardSplitHeads(Tensor x, int parts, int heads)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 3 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Linear({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} is not [B, T, {InFeatures}].", nameof(x));
        if (Bias is null)
        {
            int d = OutFeatures / (parts * heads);
            return Forward(x).Reshape(x.Shape[0], x.Shape[1], parts, heads, d).Permute(2, 0, 3, 1, 4).Contiguous();
        }
        return Ops.BiasSplitHeads(Ops.MatMul(x, Weight, transposeB: true), Bias, parts, heads);
    }
}
