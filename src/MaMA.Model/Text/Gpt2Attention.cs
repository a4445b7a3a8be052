using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// GPT-2 self-attention (HF GPT2Attention) of block <see cref="LayerIndex"/>: c_attn [C, 3C] gives
/// q, k, v (split as 3 x H x D along the output), causal attention that also skips padded keys,
/// scores scaled by 1/sqrt(D) and, with scale_attn_by_inverse_layer_idx, by 1/(layer_index + 1),
/// then c_proj [C, C]. Keys <c>c_attn.*</c> and <c>c_proj.*</c>; with LoRA on c_attn, also
/// <c>c_attn.lora_A.default.weight</c> and <c>c_attn.lora_B.default.weight</c>.
/// <para>
/// In training, HF's <c>attn_dropout</c> (attn_pdrop) on the attention probabilities and
/// <c>resid_dropout</c> (resid_pdrop) on c_proj's output. The probability dropout runs inside the
/// flash kernels (<see cref="AttentionDropout"/>: the mask <c>attn_dropout</c> would draw over
/// [B, H, T, T], which never exists). <see cref="ForceUnfused"/> computes HF's eager form op by op
/// instead (scores, additive masks, softmax, dropout, times v): the reference the tests hold the
/// fused form to.
/// </para>
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
        AttnDropout = RegisterModule("attn_dropout", new Dropout(config.AttnPdrop));
        ResidDropout = RegisterModule("resid_dropout", new Dropout(config.ResidPdrop));
    }

    /// <summary>HF <c>attn.attn_dropout</c> on the attention probabilities (attn_pdrop), training only.</summary>
    public Dropout AttnDropout { get; }

    /// <summary>HF <c>attn.resid_dropout</c> on c_proj's output (resid_pdrop), training only.</summary>
    public Dropout ResidDropout { get; }

    /// <summary>Tests: compute the heads op by op (HF's eager attention, with its dropout module) instead of the flash kernels.</summary>
    internal bool ForceUnfused { get; set; }

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
    public Tensor Forward(Tensor x, Tensor attentionMask) => ResidDropout.Forward(Gpt2Projection.Forward(CProj, MixHeads(x, attentionMask)));

    /// <summary>
    /// The block's update residual + attn(x) [B, T, C]: c_proj's bias add and the residual add in one
    /// pass, or, while the residual dropout draws masks, residual + dropout(c_proj(...)) op by op.
    /// </summary>
    public Tensor ForwardResidual(Tensor x, Tensor attentionMask, Tensor residual)
    {
        Tensor heads = MixHeads(x, attentionMask);
        return ResidDropout.Active
            ? Ops.Add(residual, ResidDropout.Forward(Gpt2Projection.Forward(CProj, heads)))
            : Gpt2Projection.ForwardResidual(CProj, heads, residual);
    }

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
        if (ForceUnfused) return MixHeadsWithDropout(q, k, v, attentionMask);
        // [B, T, C], heads joined by the kernel; in training attn_dropout's mask over [B, H, T, T] is applied inside.
        return Ops.Attention(q, k, v, attentionMask, causal: true, Scale, joinHeads: true, AttnDropout.ForAttention(b, Heads, t));
    }

    /// <summary>
    /// HF's eager attention with attn_dropout: softmax(scale q k^T + mask) [B, H, T, T], dropout on
    /// those probabilities, times v [B, H, T, D], heads joined to [B, T, C]. The mask is additive:
    /// -1e30 for a later key (causal) or a padded one, as HF's finfo.min, so a padded query still sees
    /// the real keys before it. The values equal the flash kernel's where dropout keeps everything
    /// (a row with no visible key, which MaMA's BOS-led captions never have, averages here and is 0 there).
    /// </summary>
    private Tensor MixHeadsWithDropout(Tensor q, Tensor k, Tensor v, Tensor attentionMask)
    {
        int b = q.Size(0), t = q.Size(2);
        Tensor scores = Ops.Scale(Ops.MatMul(q, k, transposeB: true), Scale);              // [B, H, T, T] fp32
        Tensor keyMask, causal;
        using (GradMode.NoGrad())
        {
            // keep 1 -> 0, keep 0 -> -1e30, as [B, 1, 1, T]; the causal part [T, T] is a constant.
            keyMask = Ops.Reshape(Ops.Affine(Ops.Cast(attentionMask, DType.Float32), MaskedScore, -MaskedScore), b, 1, 1, t);
            causal = CausalMask(t, q.Device);
        }
        Tensor probabilities = Ops.Softmax(Ops.Add(Ops.Add(scores, keyMask), causal), -1);
        Tensor heads = Ops.MatMul(AttnDropout.Forward(probabilities), v);                    // [B, H, T, D]
        return Ops.Reshape(Ops.Contiguous(Ops.Transpose(heads, 1, 2)), b, t, Heads * HeadDim);
    }

    /// <summary>The additive score of a key a query must not see (HF uses finfo(float32).min; any score this low has weight 0).</summary>
    private const float MaskedScore = 1e30f;

    private Tensor? _causal;

    /// <summary>[T, T]: 0 where key j &lt;= query i, else -1e30 (kept for the next call with the same T and device).</summary>
    private Tensor CausalMask(int t, Device device)
    {
        if (_causal is { } cached && cached.Size(0) == t && cached.Device == device) return cached;
        var data = new float[(long)t * t];
        for (int i = 0; i < t; i++)
            for (int j = i + 1; j < t; j++) data[(long)i * t + j] = -MaskedScore;
        _causal = Tensor.FromArray(data, [t, t], device);
        return _causal;
    }
}
