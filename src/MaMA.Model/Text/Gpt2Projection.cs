using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// One of GPT-2's Conv1D projections (c_attn, attn.c_proj, c_fc, mlp.c_proj), built as a plain
/// <see cref="Conv1D"/> or, when the LoRA config targets it, as PEFT builds it: an
/// <see cref="LoraLinear"/> in Conv1D layout (weight [in, out], PEFT's fan_in_fan_out) with r,
/// alpha and dropout from <see cref="LoraConfig"/>. A target matches the module's dotted name
/// within the block ("attn.c_attn") or its tail after a dot, as PEFT matches target_modules.
/// </summary>
internal static class Gpt2Projection
{
    /// <summary>True when <paramref name="lora"/> puts an adapter on the module named <paramref name="name"/> ("attn.c_attn").</summary>
    public static bool IsTargeted(LoraConfig? lora, string name) =>
        lora is not null && lora.TargetModules.Any(t => name == t || name.EndsWith("." + t, StringComparison.Ordinal));

    public static Module Create(string name, int inFeatures, int outFeatures, double std, LoraConfig? lora, Random rng, Device? device)
    {
        if (!IsTargeted(lora, name)) return new Conv1D(inFeatures, outFeatures, rng, std, device);
        var layer = new LoraLinear(inFeatures, outFeatures, WeightLayout.Conv1D, rng, lora!.Rank, lora.Alpha, lora.Dropout, bias: true, device);
        // LoraLinear draws its base weight N(0, 0.02); the residual projections use HF's smaller std.
        if (std != Gpt2Init.Std && !WeightInit.Skipping) layer.Weight.CopyFrom(Gpt2Init.NormalTensor(rng, [inFeatures, outFeatures], std, device));
        // Distinct Philox keys per layer, so layers do not share dropout masks. Drawn here (between
        // the weights) so that a seed's weights stay what they were; a trainer rekeys every site from
        // its run seed (Gpt2Transformer.SeedDropout), which a model built to be loaded relies on.
        layer.DropoutSeed = (ulong)rng.NextInt64();
        return layer;
    }

    /// <summary>x [..., in] -> [..., out] through either kind.</summary>
    public static Tensor Forward(Module projection, Tensor x) => projection switch
    {
        Conv1D conv => conv.Forward(x),
        LoraLinear lora => lora.Forward(x),
        _ => throw new InvalidOperationException($"Not a GPT-2 projection: {projection.GetType().Name}."),
    };

    /// <summary>c_attn's heads: x [B, T, in] -> [S, B, H, T, D] contiguous, split in one pass (bf16 under autocast) by either kind.</summary>
    public static Tensor ForwardSplitHeads(Module projection, Tensor x, int parts, int heads) => projection switch
    {
        Conv1D conv => conv.ForwardSplitHeads(x, parts, heads),
        LoraLinear lora => lora.ForwardSplitHeads(x, parts, heads),
        _ => throw new InvalidOperationException($"Not a GPT-2 projection: {projection.GetType().Name}."),
    };

    /// <summary>residual + <see cref="Forward"/>: a plain Conv1D adds its bias and the residual in one pass.</summary>
    public static Tensor ForwardResidual(Module projection, Tensor x, Tensor residual) => projection switch
    {
        Conv1D conv => conv.ForwardResidual(x, residual),
        LoraLinear lora => Ops.Add(residual, lora.Forward(x)),
        _ => throw new InvalidOperationException($"Not a GPT-2 projection: {projection.GetType().Name}."),
    };

    /// <summary>GELU of <see cref="Forward"/>: a plain Conv1D adds its bias inside the GELU pass; LoRA's kernel adds it in its own epilogue.</summary>
    public static Tensor ForwardGelu(Module projection, Tensor x, GeluForm form) => projection switch
    {
        Conv1D conv => conv.ForwardGelu(x, form),
        LoraLinear lora => Ops.Gelu(lora.Forward(x), form),
        _ => throw new InvalidOperationException($"Not a GPT-2 projection: {projection.GetType().Name}."),
    };
}
