using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Model.Text;

/// <summary>
/// What the MaMA text encoder needs from its language model, whichever key layout it has
/// (<see cref="Gpt2Model"/>: HF GPT2LMHeadModel keys; <see cref="PeftGpt2Model"/>: PEFT's
/// <c>base_model.model.</c> keys).
/// </summary>
public interface IGpt2TextModel
{
    Gpt2Config Config { get; }

    /// <summary>The HF GPT2Model trunk (wte, wpe, h, ln_f).</summary>
    Gpt2Transformer Transformer { get; }

    /// <summary>Recompute each block's activations in backward.</summary>
    bool UseActivationCheckpointing { get; set; }

    /// <summary>inputIds [B, T], attentionMask [B, T] (1 keep, 0 pad) -> ln_f hidden states [B, T, C].</summary>
    Tensor Forward(Tensor inputIds, Tensor attentionMask);

    /// <summary>HF resize_token_embeddings (new rows N(0, 0.02); frozen state kept).</summary>
    void ResizeTokenEmbeddings(int newVocab, Random rng);

    /// <summary>Every LoRA layer, by dotted name relative to the transformer.</summary>
    IEnumerable<(string Name, LoraLinear Layer)> LoraLayers();

    /// <summary>Folds every adapter into its base weight (inference); see <see cref="LoraLinear.Merge"/>.</summary>
    void MergeAdapters();

    /// <summary>Takes every adapter back out of its base weight.</summary>
    void UnmergeAdapters();
}
