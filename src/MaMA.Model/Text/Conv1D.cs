using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// Hugging Face's GPT-2 Conv1D (a linear layer with the weight transposed): y = x W + b with
/// weight [in, out] and bias [out], keys <c>weight</c> and <c>bias</c> as in GPT-2 checkpoints.
/// Initialised N(0, <paramref name="std"/>) with a zero bias (HF: std 0.02, c_proj scaled).
/// </summary>
public sealed class Conv1D : Module
{
    public Conv1D(int inFeatures, int outFeatures, Random rng, double std = Gpt2Init.Std, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Gpt2Init.NormalTensor(rng, [inFeatures, outFeatures], std, device));
        Bias = RegisterParameter("bias", Tensor.Zeros([outFeatures], DType.Float32, device), noWeightDecay: true);
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    /// <summary>[in, out].</summary>
    public Parameter Weight { get; }

    /// <summary>[out].</summary>
    public Parameter Bias { get; }

    /// <summary>x [..., in] -> [..., out].</summary>
    public Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank == 0 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Conv1D({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} does not end in {InFeatures}.", nameof(x));
        Tensor x2 = x.Rank == 1 ? x.Reshape(1, InFeatures) : x;
        Tensor y = Ops.Add(Ops.MatMul(x2, Weight), Bias);
        return x.Rank == 1 ? y.Reshape(OutFeatures) : y;
    }

    /// <summary>
    /// residual + (x W + b), x [..., in] -> [..., out] with residual [..., out]: a residual branch
    /// ending in this layer, the bias add and the residual add in one pass (<see cref="Ops.ScaledResidual"/>
    /// without a scale); same values as <c>Ops.Add(residual, Forward(x))</c>.
    /// </summary>
    public Tensor ForwardResidual(Tensor x, Tensor residual)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 2 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Conv1D({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} is not [..., {InFeatures}].", nameof(x));
        return Ops.ScaledResidual(residual, Ops.MatMul(x, Weight), Bias, gamma: null);
    }

    /// <summary>
    /// A fused attention projection's heads (GPT-2's c_attn): x [B, T, in] -> [S, B, H, T, D]
    /// contiguous (out = S H D), the bias added in the same pass that splits the heads
    /// (<see cref="Ops.BiasSplitHeads"/>); same values as <c>Forward(x)</c> reshaped to
    /// [B, T, S, H, D] and permuted (2, 0, 3, 1, 4).
    /// </summary>
    public Tensor ForwardSplitHeads(Tensor x, int parts, int heads)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 3 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Conv1D({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} is not [B, T, {InFeatures}].", nameof(x));
        return Ops.BiasSplitHeads(Ops.MatMul(x, Weight), Bias, parts, heads);
    }

    /// <summary>GELU(x W + b), x [..., in] -> [..., out], the bias add inside the GELU pass (<see cref="Ops.BiasGelu"/>); same values as GELU after <see cref="Forward"/>.</summary>
    public Tensor ForwardGelu(Tensor x, GeluForm form)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank == 0 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Conv1D({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} does not end in {InFeatures}.", nameof(x));
        Tensor x2 = x.Rank == 1 ? x.Reshape(1, InFeatures) : x;
        Tensor y = Ops.BiasGelu(Ops.MatMul(x2, Weight), Bias, form);
        return x.Rank == 1 ? y.Reshape(OutFeatures) : y;
    }
}
