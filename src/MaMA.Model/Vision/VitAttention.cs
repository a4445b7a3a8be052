using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// DINOv2 multi-head self-attention over all T tokens (no mask): qkv [3C, C] with bias, split as
/// 3 x H x D along its output axis (q rows first, then k, then v; head-major inside each),
/// softmax(q k^T / sqrt(D)) v per head, heads joined back to C, then proj [C, C] with bias.
/// The scores are never materialised (<see cref="Ops.Attention"/> is flash style).
/// </summary>
public sealed class VitAttention : Module
{
    public VitAttention(int dim, int numHeads, Random rng, Device? device = null)
    {
        if (dim % numHeads != 0) throw new ArgumentException($"embed dim {dim} is not a multiple of the head count {numHeads}.");
        NumHeads = numHeads;
        HeadDim = dim / numHeads;
        Scale = 1f / MathF.Sqrt(HeadDim);
        Qkv = RegisterModule("qkv", VitInit.Linear(dim, 3 * dim, rng, device));
        Proj = RegisterModule("proj", VitInit.Linear(dim, dim, rng, device));
    }

    /// <summary>H.</summary>
    public int NumHeads { get; }

    /// <summary>D = C / H.</summary>
    public int HeadDim { get; }

    /// <summary>1 / sqrt(D), the multiplier on q . k.</summary>
    public float Scale { get; }

    public Linear Qkv { get; }

    public Linear Proj { get; }

    /// <summary>x [B, T, C] -> [B, T, C].</summary>
    public Tensor Forward(Tensor x) => Proj.Forward(Heads(x));

    /// <summary>
    /// The block's update residual + gamma attn(x) [B, T, C]: proj's bias add, the LayerScale
    /// gamma [C] and the residual add in one pass (<see cref="Linear.ForwardScaledResidual"/>).
    /// </summary>
    public Tensor ForwardResidual(Tensor x, Tensor residual, Tensor gamma) => Proj.ForwardScaledResidual(Heads(x), residual, gamma);

    /// <summary>x [B, T, C] -> the heads' outputs joined back to [B, T, C], proj's input.</summary>
    private Tensor Heads(Tensor x)
    {
        int b = x.Shape[0], t = x.Shape[1];
        // [B, T, 3C] -> [B, T, 3, H, D] -> [3, B, H, T, D] contiguous, the bias added in the same pass
        // (bf16 under autocast); q, k, v are contiguous slices of it.
        Tensor qkv = Qkv.ForwardSplitHeads(x, 3, NumHeads);
        Tensor q = qkv.Narrow(0, 0, 1).Reshape(b, NumHeads, t, HeadDim);
        Tensor k = qkv.Narrow(0, 1, 1).Reshape(b, NumHeads, t, HeadDim);
        Tensor v = qkv.Narrow(0, 2, 1).Reshape(b, NumHeads, t, HeadDim);
        // [B, T, H D] = [B, T, C], written by the kernel with the heads joined (bf16 under autocast,
        // the projection's operand): no permuted copy, no cast before proj.
        return Ops.Attention(q, k, v, keyPaddingMask: null, causal: false, Scale, joinHeads: true);
    }
}
