using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Heads;

/// <summary>
/// torch.nn.Conv1d with kernel size 1 (stride 1, no padding): a per-position linear map over the
/// channel axis. Keys <c>weight</c> [out, in, 1] and <c>bias</c> [out], initialised as PyTorch's
/// reset_parameters: U(-1/sqrt(in), 1/sqrt(in)) for both (fan-in = in * kernel = in).
/// </summary>
public sealed class Conv1x1 : Module
{
    public Conv1x1(int inChannels, int outChannels, Random rng, bool bias = true, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        InChannels = inChannels;
        OutChannels = outChannels;
        double bound = 1.0 / Math.Sqrt(inChannels);
        Weight = RegisterParameter("weight", WeightInit.Uniform(rng, [outChannels, inChannels, 1], bound, device));
        if (bias)
            Bias = RegisterParameter("bias", WeightInit.Uniform(rng, [outChannels], bound, device), noWeightDecay: true);
    }

    public int InChannels { get; }

    public int OutChannels { get; }

    /// <summary>[out, in, 1].</summary>
    public Parameter Weight { get; }

    public Parameter? Bias { get; }

    /// <summary>Channels last: x [M, in] -> [M, out] (each row is one position).</summary>
    public Tensor ForwardRows(Tensor x)
    {
        if (x.Rank != 2 || x.Shape[1] != InChannels)
            throw new ArgumentException($"Conv1x1({InChannels} -> {OutChannels}): rows must be [M, {InChannels}], got {Shape.Format(x.Shape)}.", nameof(x));
        Tensor y = Ops.MatMul(x, Weight.Reshape(OutChannels, InChannels), transposeB: true);
        return Bias is null ? y : Ops.Add(y, Bias);
    }

    /// <summary>PyTorch layout: x [N, in, L] -> [N, out, L].</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank != 3 || x.Shape[1] != InChannels)
            throw new ArgumentException($"Conv1x1({InChannels} -> {OutChannels}): input must be [N, {InChannels}, L], got {Shape.Format(x.Shape)}.", nameof(x));
        int n = x.Shape[0], l = x.Shape[2];
        Tensor rows = x.Permute(0, 2, 1).Contiguous().Reshape(n * l, InChannels);
        return ForwardRows(rows).Reshape(n, l, OutChannels).Permute(0, 2, 1).Contiguous();
    }
}
