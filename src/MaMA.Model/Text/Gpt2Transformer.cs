using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// The GPT-2 trunk (HF GPT2Model, the <c>transformer</c> of GPT2LMHeadModel): token embedding
/// <c>wte</c> [V, C], position embedding <c>wpe</c> [n_positions, C], blocks <c>h.N</c>, final
/// LayerNorm <c>ln_f</c>. Position ids are 0..T-1 for every row, which is what HF uses when the
/// caller passes an attention mask but no position_ids (MaMA's call; right padding, so real tokens
/// get the same positions either way). In training, HF's dropouts: <c>drop</c> on wte + wpe
/// (embd_pdrop) and, in each block, attention-probability and residual dropout (attn_pdrop,
/// resid_pdrop). Each site has its own counter-based stream (<see cref="Dropout"/>), keyed by
/// <see cref="SeedDropout"/>.
/// </summary>
public sealed class Gpt2Transformer : Module
{
    public Gpt2Transformer(Gpt2Config config, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        Config = config;
        Wte = RegisterModule("wte", new Gpt2Embedding(config.VocabSize, config.NEmbd, rng, device));
        Wpe = RegisterModule("wpe", new Gpt2Embedding(config.NPositions, config.NEmbd, rng, device));
        H = RegisterModule("h", new ModuleList<Gpt2Block>(Enumerable.Range(0, config.NLayer).Select(i => new Gpt2Block(config, i, rng, device))));
        LnF = RegisterModule("ln_f", new LayerNorm(config.NEmbd, config.LayerNormEpsilon, device));
        Drop = RegisterModule("drop", new Dropout(config.EmbdPdrop));
        SeedDropout(0);
    }

    /// <summary>HF <c>drop</c>: dropout on wte + wpe (embd_pdrop) in training.</summary>
    public Dropout Drop { get; }

    /// <summary>
    /// Keys every dropout stream of the trunk from <paramref name="seed"/>: site k in module order
    /// gets <see cref="Dropout.StreamKey"/>(seed, k), the trunk's dropouts first (0 .. n - 1), then
    /// the LoRA adapters' input dropouts (n ..); offsets are left as they are. The constructor keys
    /// the trunk with seed 0 and each adapter from the initialisation's <see cref="Random"/>; a
    /// trainer passes its run seed, so runs with other seeds draw other masks, and a model built to
    /// be loaded (<see cref="WeightInit.Skip"/>, which draws nothing) gets the keys a drawn one would.
    /// </summary>
    public void SeedDropout(ulong seed)
    {
        ulong site = 0;
        Module[] modules = NamedModules().Select(m => m.Module).ToArray();
        foreach (Dropout d in modules.OfType<Dropout>()) d.Seed = Dropout.StreamKey(seed, site++);
        foreach (LoraLinear lora in modules.OfType<LoraLinear>()) lora.DropoutSeed = Dropout.StreamKey(seed, site++);
    }

    public Gpt2Config Config { get; }

    public Gpt2Embedding Wte { get; }

    public Gpt2Embedding Wpe { get; }

    public ModuleList<Gpt2Block> H { get; }

    public LayerNorm LnF { get; }

    /// <summary>Run each block through <see cref="ActivationCheckpoint.Run"/> (recomputed in backward).</summary>
    public bool UseActivationCheckpointing { get; set; }

    /// <summary>
    /// inputIds [B, T] (int64 or int32, each below V), attentionMask [B, T] (1 keep, 0 pad; any
    /// dtype) -> ln_f hidden states [B, T, C] (fp32). T must not exceed n_positions.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor attentionMask)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (inputIds.Rank != 2 || inputIds.DType is not (DType.Int64 or DType.Int32))
            throw new ArgumentException($"GPT-2: input_ids must be [B, T] int64 or int32, got {Shape.Format(inputIds.Shape)} {inputIds.DType}.", nameof(inputIds));
        if (!Shape.SameShape(attentionMask.Shape, inputIds.Shape))
            throw new ArgumentException($"GPT-2: attention_mask has shape {Shape.Format(attentionMask.Shape)} but input_ids has {Shape.Format(inputIds.Shape)}.", nameof(attentionMask));
        int t = inputIds.Size(1);
        if (t > Wpe.Count)
            throw new ArgumentException($"GPT-2: {t} tokens exceed n_positions ({Wpe.Count}).", nameof(inputIds));

        int[] positions = Enumerable.Range(0, t).ToArray();
        using Tensor positionIds = Tensor.FromArray(positions, [t], inputIds.Device);
        Tensor h = Drop.Forward(Ops.Add(Wte.Forward(inputIds), Wpe.Forward(positionIds)));   // [B, T, C] + [T, C]
        // The key-padding mask as fp32 once, instead of a cast inside every block's attention.
        Tensor keep;
        using (GradMode.NoGrad()) keep = Ops.Contiguous(Ops.Cast(attentionMask, DType.Float32));
        foreach (Gpt2Block block in H)
            h = UseActivationCheckpointing
                ? ActivationCheckpoint.Run(block, x => block.Forward(x, keep), h)
                : block.Forward(h, keep);
        return LnF.Forward(h);
    }
}
