using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// GPT-2 / BioMedLM as MaMA uses it (SPEC section 4): HF GPT2LMHeadModel with the LM head removed,
/// so the state-dict keys are HF's minus <c>lm_head</c>: <c>transformer.wte.weight</c>,
/// <c>transformer.wpe.weight</c>, <c>transformer.h.N.{ln_1, attn.c_attn, attn.c_proj, ln_2,
/// mlp.c_fc, mlp.c_proj}.*</c>, <c>transformer.ln_f.*</c> (Conv1D weights [in, out]). The
/// output is the ln_f hidden states, the text features.
/// <para>
/// With <see cref="Gpt2Config.Lora"/> set, the targeted projections (c_attn) carry adapters with
/// PEFT's in-module keys (<c>lora_A.default.weight</c>, <c>lora_B.default.weight</c>) and every
/// base parameter is frozen, embeddings and LayerNorms included, as get_peft_model does; only the
/// adapters train. Use <see cref="PeftGpt2Model"/> for PEFT's <c>base_model.model.</c> key prefix.
/// </para>
/// Initialisation is HF's (see <see cref="Gpt2Init"/>); real weights come from a checkpoint.
/// </summary>
public sealed class Gpt2Model : Module, IGpt2TextModel
{
    public Gpt2Model(Gpt2Config config, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        Transformer = RegisterModule("transformer", new Gpt2Transformer(config, rng, device));
        if (config.Lora is not null) FreezeBase();
    }

    public Gpt2Config Config { get; }

    public Gpt2Transformer Transformer { get; }

    public bool UseActivationCheckpointing
    {
        get => Transformer.UseActivationCheckpointing;
        set => Transformer.UseActivationCheckpointing = value;
    }

    /// <inheritdoc cref="Gpt2Transformer.Forward"/>
    public Tensor Forward(Tensor inputIds, Tensor attentionMask) => Transformer.Forward(inputIds, attentionMask);

    /// <summary>
    /// HF resize_token_embeddings on wte: old rows kept, new rows N(0, 0.02) from
    /// <paramref name="rng"/>, the frozen state kept (frozen under LoRA). Config.VocabSize is not
    /// changed; <see cref="VocabSize"/> reports the table's size.
    /// </summary>
    public void ResizeTokenEmbeddings(int newVocab, Random rng) => Transformer.Wte.Resize(newVocab, rng);

    /// <summary>Rows of wte now.</summary>
    public int VocabSize => Transformer.Wte.Count;

    public IEnumerable<(string Name, LoraLinear Layer)> LoraLayers() =>
        Transformer.NamedModules().Where(m => m.Module is LoraLinear).Select(m => (m.Prefix.TrimEnd('.'), (LoraLinear)m.Module));

    public void MergeAdapters()
    {
        foreach ((_, LoraLinear layer) in LoraLayers()) layer.Merge();
    }

    public void UnmergeAdapters()
    {
        foreach ((_, LoraLinear layer) in LoraLayers()) layer.Unmerge();
    }

    /// <summary>PEFT's mark_only_lora_as_trainable: everything but lora_A / lora_B.</summary>
    private void FreezeBase()
    {
        foreach ((string name, Parameter p) in NamedParameters())
            if (!name.Contains(".lora_A.", StringComparison.Ordinal) && !name.Contains(".lora_B.", StringComparison.Ordinal))
                p.Freeze();
    }
}
