using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Heads;
using MaMA.Model.Text;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.MaMA;

/// <summary>
/// MaMA's text encoder (published <c>CausalLMEncoder</c> with <c>linear_proj</c>), children in the
/// published order: <c>model</c> (GPT-2 / BioMedLM; with LoRA the PEFT wrapper, keys
/// <c>model.base_model.model.transformer.*</c>, only the adapters train; without LoRA the plain
/// model, keys <c>model.transformer.*</c>), <c>global_embed</c> Linear(C, E) and
/// <c>local_embed</c> (<see cref="LocalEmbedding"/>(C, hidden, E)). The LM head is absent: the
/// features are the ln_f hidden states.
/// </summary>
public sealed class CausalLMEncoder : Module
{
    public CausalLMEncoder(Gpt2Config text, int embedDim, int localHiddenDim, int sepTokenId, TextPooling pooling, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        Module model = text.Lora is null ? new Gpt2Model(text, rng, device) : new PeftGpt2Model(text, rng, device);
        Model = (IGpt2TextModel)RegisterModule("model", model);
        GlobalEmbed = RegisterModule("global_embed", new Linear(text.NEmbd, embedDim, rng, device: device));
        LocalEmbed = RegisterModule("local_embed", new LocalEmbedding(text.NEmbd, localHiddenDim, embedDim, rng, device));
        SepTokenId = sepTokenId;
        Pooling = pooling;
    }

    public IGpt2TextModel Model { get; }

    public Linear GlobalEmbed { get; }

    public LocalEmbedding LocalEmbed { get; }

    public int SepTokenId { get; }

    public TextPooling Pooling { get; }

    /// <summary>ids, mask [B, T] -> hidden states, pooled feature, global embedding [B, E] and packed SEP features.</summary>
    public TextEncoding Encode(Tensor inputIds, Tensor attentionMask)
    {
        Tensor hidden = Model.Forward(inputIds, attentionMask);                      // [B, T, C]
        Tensor pooled = TextFeatures.GlobalFeature(hidden, attentionMask, Pooling);  // [B, C]
        Tensor embedding = Ops.L2Normalize(GlobalEmbed.Forward(pooled));             // [B, E]
        (Tensor sentences, Tensor offsets) = TextFeatures.SentenceFeatures(hidden, inputIds, SepTokenId);
        return new TextEncoding(hidden, pooled, embedding, sentences, offsets);
    }

    /// <summary>
    /// Sentence embeddings [sum S, E]: L2-normalised <c>local_embed</c> applied to each report's
    /// sentences on their own (published: one call per report on [1, S_m, C], so BatchNorm
    /// statistics are per report). Every report needs at least one SEP token.
    /// </summary>
    public Tensor SentenceEmbeddings(TextEncoding text)
    {
        ArgumentNullException.ThrowIfNull(text);
        long[] offsets = text.Offsets.ToArray<long>();
        for (int m = 0; m + 1 < offsets.Length; m++)
            if (offsets[m + 1] == offsets[m])
                throw new ArgumentException($"report {m} has no SEP token (id {SepTokenId}), so it has no sentence for the local loss; every report needs at least one.");
        return Ops.L2Normalize(LocalEmbed.ForwardSegments(text.Sentences, offsets));
    }
}
