using System.Text.Json.Nodes;
using MaMA.Engine;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// Scaled dot-product attention, q, k, v [B, H, T, D] (fp32 or bf16 storage, fp32 compute), score
/// multiplier 1/sqrt(D)/(layer + 1) (GPT-2's layer scaling; layer 0 is plain SDPA), optionally
/// causal and with trailing keys of batch row b padded after <see cref="KeptKeys"/>[b].
/// FLOPs count the (query, key) pairs actually visited: forward 4 D per pair per head (q k^T and
/// P v); the backward 10 D per pair (FlashAttention-2's count: scores recomputed, then dV, dP, dQ,
/// dK), so forward+backward is 3.5 x forward. <see cref="JoinHeads"/>: the output as the model
/// takes it, [B, T, H D] (the engine's kernels write it joined, in the inputs' dtype; PyTorch's
/// twin is SDPA, then transpose(1, 2).reshape, a copy, as DINOv2 and GPT-2 write it).
/// <see cref="DropoutP"/> &gt; 0: GPT-2's attn_dropout in training, inside the kernels
/// (<see cref="AttentionDropout"/>; PyTorch's twin is SDPA's dropout_p). The two sides draw different
/// masks at the same rate; FLOPs are counted as without dropout.
/// </summary>
public sealed record AttentionCase(string Model, int Batch, int Heads, int Tokens, int HeadDim, bool Causal, int[]? KeptKeys, int Layer, bool Bf16,
    bool JoinHeads = false, float DropoutP = 0f) : BenchCase
{
    public override string Name =>
        $"attention {Model} B{Batch} H{Heads} T{Tokens} D{HeadDim}" + (Causal ? " causal" : "") + (KeptKeys is null ? "" : $"+pad layer{Layer}") + (Bf16 ? " bf16" : "")
        + (JoinHeads ? " joined" : "") + (DropoutP > 0f ? $" dropout {DropoutP.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "");

    public override string Family => "attention";

    public override BenchInput[] Inputs
    {
        get
        {
            int[] shape = [Batch, Heads, Tokens, HeadDim];
            DType dtype = Bf16 ? DType.BFloat16 : DType.Float32;
            return [new("q", shape, dtype), new("k", shape, dtype), new("v", shape, dtype)];
        }
    }

    public float Scale => (float)(1.0 / Math.Sqrt(HeadDim) / (Layer + 1));

    /// <summary>Visible (query, key) pairs over the batch: j &lt;= i when causal, j &lt; kept[b] when padded.</summary>
    public long Pairs
    {
        get
        {
            long pairs = 0;
            for (int b = 0; b < Batch; b++)
            {
                int kept = KeptKeys?[b] ?? Tokens;
                for (int i = 0; i < Tokens; i++) pairs += Math.Min(Causal ? i + 1 : Tokens, kept);
            }
            return pairs;
        }
    }

    public override long ForwardFlops => 4L * Heads * HeadDim * Pairs;

    public override long ForwardBackwardFlops => 14L * Heads * HeadDim * Pairs;

    /// <summary>keep[b, j] = 1 for j &lt; KeptKeys[b], else 0 ([B, T]); null when nothing is padded.</summary>
    public float[]? KeepMask()
    {
        if (KeptKeys is null) return null;
        var keep = new float[Batch * Tokens];
        for (int b = 0; b < Batch; b++)
            for (int j = 0; j < KeptKeys[b]; j++) keep[b * Tokens + j] = 1f;
        return keep;
    }

    public override Tensor Engine(Tensor[] x)
    {
        float[]? keep = KeepMask();
        Tensor? mask = keep is null ? null : Tensor.FromArray(keep, [Batch, Tokens], x[0].Device);
        var dropout = DropoutP > 0f ? new AttentionDropout(DropoutP, Seed: 1234, Offset: 0) : AttentionDropout.None;
        return Ops.Attention(x[0], x[1], x[2], mask, Causal, Scale, JoinHeads, dropout);
    }

    protected override JsonObject Parameters()
    {
        JsonObject p = BaseParameters();
        if (DropoutP > 0f) p["dropout_p"] = DropoutP;
        return p;
    }

    private JsonObject BaseParameters() => new()
    {
        ["model"] = Model,
        ["batch"] = Batch,
        ["heads"] = Heads,
        ["tokens"] = Tokens,
        ["head_dim"] = HeadDim,
        ["causal"] = Causal,
        ["kept_keys"] = KeptKeys is null ? null : new JsonArray(KeptKeys.Select(k => (JsonNode)k).ToArray()),
        ["layer"] = Layer,
        ["join_heads"] = JoinHeads,
    };
}
