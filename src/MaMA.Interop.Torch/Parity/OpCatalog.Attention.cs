using MaMA.Engine;
using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// Flash attention (<see cref="Ops.Attention"/>) against torch.nn.functional.scaled_dot_product_attention:
/// odd T (17, 33, and 130 for several key/query blocks) and D (16, 24, and the real 64 and 128),
/// bidirectional, causal, padding masks (trailing keys padded per batch, never a whole row), the
/// GPT-2 extra 1/(layer + 1) score scale, bf16 storage with fp32 accumulation, and the joined-heads
/// output [B, T, H D] (bf16 for bf16 inputs) against SDPA's output transposed and reshaped.
/// </summary>
public static partial class OpCatalog
{
    static partial void AddAttentionFamily(List<OpCase> cases)
    {
        // fp32: relative error 1e-4 on the output and every gradient.
        AddAttention(cases, "attention_bidirectional", [2, 3, 33, 16], causal: false, keptKeys: null);
        AddAttention(cases, "attention_bidirectional_d24", [1, 2, 17, 24], causal: false, keptKeys: null);
        AddAttention(cases, "attention_vit_head_d64", [1, 2, 130, 64], causal: false, keptKeys: null);
        AddAttention(cases, "attention_causal", [2, 2, 33, 16], causal: true, keptKeys: null);
        AddAttention(cases, "attention_padding", [3, 2, 17, 16], causal: false, keptKeys: [17, 12, 5]);
        AddAttention(cases, "attention_causal_padding_layer_scale", [2, 2, 17, 24], causal: true, keptKeys: [17, 9], layer: 2);
        AddAttention(cases, "attention_gpt2_head_d128", [2, 1, 130, 128], causal: true, keptKeys: [101, 130], layer: 4);
        AddAttention(cases, "attention_causal_padding_t130", [2, 2, 130, 32], causal: true, keptKeys: [130, 66], layer: 1);

        // bf16 storage, fp32 accumulation: 2e-2 (the engine's inputs are rounded to bf16; torch
        // rounds the same way and computes in fp32).
        AddAttention(cases, "attention_bf16", [2, 2, 33, 16], causal: false, keptKeys: null, bf16: true);
        AddAttention(cases, "attention_bf16_causal_padding", [2, 2, 17, 24], causal: true, keptKeys: [17, 11], layer: 3, bf16: true);

        // Heads joined by the kernel: fp32 (1e-4), and bf16 in, bf16 out (2e-2).
        AddAttention(cases, "attention_joined_causal_padding", [2, 3, 17, 24], causal: true, keptKeys: [17, 10], layer: 1, joinHeads: true);
        AddAttention(cases, "attention_joined_bf16", [2, 2, 33, 16], causal: false, keptKeys: null, bf16: true, joinHeads: true);

        // GPT-2's attn_dropout inside the kernels: libtorch computes softmax, times the engine's mask
        // factors (a constant from DropoutMask), times v. T 17 and element base 6 (blocks straddle
        // rows), and bf16 joined at D 64 (the tensor cores on the simulator) with T 20 and base 8
        // (lanes share blocks).
        AddAttention(cases, "attention_dropout_causal_padding", [2, 2, 17, 24], causal: true, keptKeys: [17, 11], layer: 2,
            dropout: new AttentionDropout(0.2f, Seed: 4321, Offset: 3, ElementBase: 6));
        AddAttention(cases, "attention_dropout_bf16_joined_d64", [2, 2, 20, 64], causal: true, keptKeys: [20, 13], layer: 1, bf16: true, joinHeads: true,
            dropout: new AttentionDropout(0.1f, Seed: 99, Offset: 0, ElementBase: 8));
    }

    /// <summary>
    /// One attention case over q, k, v of <paramref name="shape"/> [B, H, T, D]; <paramref name="keptKeys"/>
    /// gives per batch how many leading keys are kept (the rest padded); the scale is
    /// 1/sqrt(D)/(layer + 1). <paramref name="joinHeads"/>: the output [B, T, H D], libtorch's
    /// transposed and reshaped. <paramref name="dropout"/>: the probabilities dropped inside the kernels;
    /// libtorch's side is <see cref="TorchAttentionDropped"/>.
    /// </summary>
    private static void AddAttention(List<OpCase> cases, string name, int[] shape, bool causal, int[]? keptKeys, int layer = 0, bool bf16 = false,
        bool joinHeads = false, AttentionDropout dropout = default)
    {
        int batch = shape[0], heads = shape[1], t = shape[2], d = shape[3];
        float scale = (float)(1.0 / Math.Sqrt(d) / (layer + 1));
        cases.Add(new(name, [new("q", shape), new("k", shape), new("v", shape)],
            x =>
            {
                EngineTensor? keep = keptKeys is null ? null : EngineTensor.FromArray(KeepMask(batch, t, keptKeys), [batch, t], x[0].Device);
                return bf16
                    ? Ops.Attention(x[0].To(DType.BFloat16), x[1].To(DType.BFloat16), x[2].To(DType.BFloat16), keep, causal, scale, joinHeads, dropout)
                    : Ops.Attention(x[0], x[1], x[2], keep, causal, scale, joinHeads, dropout);
            },
            x =>
            {
                (TorchTensor q, TorchTensor k, TorchTensor v) = bf16 ? (Bf16(x[0]), Bf16(x[1]), Bf16(x[2])) : (x[0], x[1], x[2]);
                TorchTensor o = dropout.Active
                    ? TorchAttentionDropped(q, k, v, keptKeys, causal, scale, dropout)
                    : TorchAttention(q, k, v, keptKeys, causal, scale);
                return joinHeads ? o.transpose(1, 2).reshape(batch, t, heads * d) : o;
            },
            Tolerance: bf16 ? 2e-2 : 1e-4,
            GradTolerance: bf16 ? 2e-2 : 1e-4));
    }

    /// <summary>keep[b, j] = 1 for j &lt; keptKeys[b], else 0 (trailing keys padded).</summary>
    public static float[] KeepMask(int batch, int t, int[] keptKeys)
    {
        var keep = new float[batch * t];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < keptKeys[b]; j++) keep[b * t + j] = 1f;
        return keep;
    }

    /// <summary>
    /// libtorch's scaled_dot_product_attention with the full score multiplier <paramref name="scale"/>:
    /// TorchSharp's binding has no scale argument, so q is pre-multiplied by scale * sqrt(D) (SDPA
    /// then divides by sqrt(D)). Padding and causality become one boolean mask [B, 1, T, T]
    /// (true = attend); causal alone uses is_causal.
    /// </summary>
    public static TorchTensor TorchAttention(TorchTensor q, TorchTensor k, TorchTensor v, int[]? keptKeys, bool causal, float scale, float dropoutP = 0f)
    {
        long batch = q.shape[0], t = q.shape[2], d = q.shape[3];
        double factor = scale * Math.Sqrt(d);
        TorchTensor qs = Math.Abs(factor - 1.0) < 1e-12 ? q : q * factor;
        if (keptKeys is null) return nn.functional.scaled_dot_product_attention(qs, k, v, is_casual: causal, p: dropoutP);
        bool[] keep = KeepMask((int)batch, (int)t, keptKeys).Select(f => f != 0f).ToArray();
        TorchTensor mask = tensor(keep, [batch, 1, 1, t]);
        if (causal) mask = mask.logical_and(ones([t, t], ScalarType.Bool).tril().reshape(1, 1, t, t));
        return nn.functional.scaled_dot_product_attention(qs, k, v, attn_mask: mask, p: dropoutP);
    }

    /// <summary>
    /// Attention with dropout on the probabilities, eager in libtorch: softmax(scale q k^T with -inf
    /// where a key is not visible), times the factors of <paramref name="dropout"/>'s mask over
    /// [B, H, T, T] (1 / (1 - p) or 0, from <see cref="AttentionDropout.Mask"/>: a constant here, since
    /// libtorch's generator draws other masks), times v.
    /// </summary>
    public static TorchTensor TorchAttentionDropped(TorchTensor q, TorchTensor k, TorchTensor v, int[]? keptKeys, bool causal, float scale,
        AttentionDropout dropout)
    {
        long batch = q.shape[0], heads = q.shape[1], t = q.shape[2];
        TorchTensor visible = ones([batch, 1, t, t], ScalarType.Bool);
        if (keptKeys is not null)
            visible = visible.logical_and(tensor(KeepMask((int)batch, (int)t, keptKeys).Select(f => f != 0f).ToArray(), [batch, 1, 1, t]));
        if (causal) visible = visible.logical_and(ones([t, t], ScalarType.Bool).tril().reshape(1, 1, t, t));
        TorchTensor scores = torch.matmul(q, k.transpose(-1, -2)) * scale;
        TorchTensor probabilities = nn.functional.softmax(scores.masked_fill(visible.logical_not(), double.NegativeInfinity), -1);
        var mask = dropout.Mask;
        var factors = new float[batch * heads * t * t];
        for (long e = 0; e < factors.Length; e++) factors[e] = mask.Factor(e);
        return torch.matmul(probabilities * tensor(factors, [batch, heads, t, t]), v);
    }

    /// <summary>bf16 storage, fp32 compute: round to bf16 and widen back.</summary>
    private static TorchTensor Bf16(TorchTensor x) => x.to(ScalarType.BFloat16).to(ScalarType.Float32);
}
