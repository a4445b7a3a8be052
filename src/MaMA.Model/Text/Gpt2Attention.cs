using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// GPT-2 self-attention (HF GPT2Attention) of block <see cref="LayerIndex"/>: c_attn [C, 3C] gives
/// q, k, v (split as 3 x H x D along the output), causal attention that also skips padded keys,
/// scores scaled by 1/sqrt(D) and, with scale_attn_by_inverse_layer_idx, by 1/(layer_index + 1),
/// then c_proj [C, C]. Keys <c>c_attn.*</c> and <c>c_proj.*</c>; with LoRA on c_attn, also
/// <c>c_attn.lora_A.default.weight</c> and <c>c_attn.lora_B.default.weight</c>. No attention or
/// residual dropout (SPEC section 4 lists none; HF's attn_pdrop / resid_pdrop are not modelled).
/// </summary>
public sealed class Gpt2Attention : Module
{
    public Gpt2Attention(Gpt2Config config, int layerIndex, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        LayerIndex = layerIndex;
        Heads = config.NHead;
        HeadDim = config.HeadDim;
        float scale = config.ScaleAttnWeights ? 1f / MathF.Sqrt(HeadDim) : 1f;
        if (config.ScaleAttnByInverseLayerIdx) scale /= layerIndex + 1;
        Scale = scale;
        int c = config.NEmbd;
        CAttn = RegisterModule("c_attn", Gpt2Projection.Create("attn.c_attn", c, 3 * c, Gpt2Init.Std, config.Lora, rng, device));
        CProj = RegisterModule("c_proj", Gpt2Projection.Create("attn.c_proj", c, c, Gpt2Init.ResidualStd(config.NLayer), config.Lora, rng, device));
    }

    /// <summary>0-based block index.</summary>
    public int LayerIndex { get; }

    /// <summary>H.</summary>
    public int Heads { get; }

    /// <summary>D.</summary>
    public int HeadDim { get; }

    /// <summary>The multiplier on q . k: 1/sqrt(D) * 1/(layer_index + 1) for BioMedLM.</summary>
    public float Scale { get; }

    /// <summary><see cref="Conv1D"/> or <see cref="LoraLinear"/>.</summary>
    public Module CAttn { get; }

    /// <summary><see cref="Conv1D"/> (or <see cref="LoraLinear"/> if targeted).</summary>
    public Module CProj { get; }

    /// <summary>x [B, T, C], attentionMask [B, T] (1 keep, 0 pad) -> [B, T, C].</summary>
    public Tensor Forward(Tensor x, Tensor attentionMask) => Gpt2Projection.Forward(CProj, MixHeads(x, attentionMask));

    /// <summary>The block's update residual + attn(x) [B, T, C]: c_proj's bias add and the residual add in one pass.</summary>
    public Tensor ForwardResidual(Tensor x, Tensor attentionMask, Tensor residual) =>
        Gpt2Projection.ForwardResidual(CProj, MixHeads(x, attentionMask), residual);

    /// <summary>x [B, T, C] -> the heads' outputs merged back to [B, T, C], c_proj's input.</summary>
    private Tensor MixHeads(Tensor x, Tensor attentionMask)
    {
        int b = x.Size(0), t = x.Size(1);
        // [B, T, 3C] -> [B, T, 3, H, D] -> [3, B, H, T, D] contiguous in one pass (bf16 under
        // autocast, attention's operand dtype); q, k, v are contiguous slices of it, and their
        // gradients are added into one [3, B, H, T, D] gradient (IWindowGradient).
        Tensor qkv = Gpt2Projection.ForwardSplitHeads(CAttn, x, 3, Heads);
        Tensor q = qkv.Narrow(0, 0, 1).Reshape(b, Heads, t, HeadDim);
        Tensor k = qkv.Narrow(0, 1, 1).Reshape(b, Heads, t, HeadDim);
        Tensor v = qkv.Narrow(0, 2, 1).Reshape(b, Heads, t, HeadDim);
        return Ops.Attention(q, k, v, attentionMask, causal: true, Scale, joinHeads: true); // [B, T, C], heads joined by the kernel
    }
}
