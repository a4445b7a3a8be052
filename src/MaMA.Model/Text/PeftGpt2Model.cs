using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// GPT-2 with LoRA under PEFT's in-memory key layout (get_peft_model's PeftModel -> LoraModel ->
/// the wrapped GPT2LMHeadModel): child <c>base_model</c>, its child <c>model</c> = a
/// <see cref="Gpt2Model"/>, so keys read <c>base_model.model.transformer.h.N.attn.c_attn.lora_A.default.weight</c>
/// etc. Inside MaMA's text encoder (<c>text_encoder_q.model</c>) these become the published
/// checkpoint's <c>text_encoder_q.model.base_model.model.transformer...</c> keys. Same forward,
/// freezing and adapters as the inner model.
/// </summary>
public sealed class PeftGpt2Model : Module, IGpt2TextModel
{
    public PeftGpt2Model(Gpt2Config config, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Lora is null) throw new ArgumentException("PeftGpt2Model needs a LoRA config (Gpt2Config.Lora); use Gpt2Model for the plain model.", nameof(config));
        Model = new Gpt2Model(config, rng, device);
        BaseModel = RegisterModule("base_model", new LoraModel(Model));
    }

    /// <summary>PEFT's LoraModel (key "base_model").</summary>
    public Module BaseModel { get; }

    /// <summary>The wrapped GPT-2 (key "base_model.model").</summary>
    public Gpt2Model Model { get; }

    public Gpt2Config Config => Model.Config;

    public Gpt2Transformer Transformer => Model.Transformer;

    public bool UseActivationCheckpointing
    {
        get => Model.UseActivationCheckpointing;
        set => Model.UseActivationCheckpointing = value;
    }

    public Tensor Forward(Tensor inputIds, Tensor attentionMask) => Model.Forward(inputIds, attentionMask);

    public void ResizeTokenEmbeddings(int newVocab, Random rng) => Model.ResizeTokenEmbeddings(newVocab, rng);

    public IEnumerable<(string Name, LoraLinear Layer)> LoraLayers() => Model.LoraLayers();

    /// <summary>PEFT merge_adapter: every adapter folded into its base weight.</summary>
    public void MergeAdapters() => Model.MergeAdapters();

    /// <summary>PEFT unmerge_adapter.</summary>
    public void UnmergeAdapters() => Model.UnmergeAdapters();

    /// <summary>PEFT's LoraModel: holds the wrapped model under "model".</summary>
    private sealed class LoraModel : Module
    {
        public LoraModel(Gpt2Model model) => RegisterModule("model", model);
    }
}
