using MaMA.Model.Text;
using MaMA.Model.Vision;

namespace MaMA.Model.MaMA;

/// <summary>How the text global feature pools the last hidden states [B, T, C].</summary>
public enum TextPooling
{
    /// <summary>Mean over all T positions, padding included: the published code (reference mode).</summary>
    MeanAll,

    /// <summary>Mean over positions whose attention mask is 1 (explicit option).</summary>
    MaskedMean,
}

/// <summary>
/// The MaMA model (SPEC sections 3-6): the two encoders, E = 512 embeddings, local heads with a
/// 2048 hidden layer, SimCLR head on the 768-d image feature, both scales initialised to
/// ln(1/0.07), inter-view NT-Xent at temperature 0.5 with weight lambda 1, and the "late loss"
/// step (8000) before which only CLIP(v1, t) trains and the local heads and local scale are frozen.
/// </summary>
public sealed record MaMAConfig
{
    public VisionConfig Vision { get; init; } = VisionConfig.VitB14Reg4;

    public Gpt2Config Text { get; init; } = Gpt2Config.BioMedLM;

    /// <summary>E, the shared embedding width.</summary>
    public int EmbedDim { get; init; } = 512;

    /// <summary>Hidden width of the local heads (1x1 conv, BN, ReLU, 1x1 conv, BN).</summary>
    public int LocalHiddenDim { get; init; } = 2048;

    /// <summary>Initial logit_scale and local_scale (log-scales): ln(1/0.07).</summary>
    public float ScaleInit { get; init; } = MathF.Log(1f / 0.07f);

    /// <summary>Step from which the second view, NT-Xent, CLIP(v2, t) and SLA join the loss.</summary>
    public long LateLossStep { get; init; } = 8000;

    /// <summary>lambda, the weight of the inter-view NT-Xent term.</summary>
    public float InterViewWeight { get; init; } = 1f;

    /// <summary>tau of NT-Xent.</summary>
    public float NtXentTemperature { get; init; } = 0.5f;

    public TextPooling TextPooling { get; init; } = TextPooling.MeanAll;

    /// <summary>Recompute each transformer block's activations in backward (both encoders).</summary>
    public bool ActivationCheckpointing { get; init; }

    /// <summary>Token id of the SEP token whose hidden states are the sentence features.</summary>
    public int SepTokenId { get; init; } = 28899;

    /// <summary>Token id used for padding.</summary>
    public int PadTokenId { get; init; } = 28897;

    /// <summary>Tokenizer: "gpt2" (built in) or a folder name inside the model directory with vocab.json + merges.txt.</summary>
    public string Tokenizer { get; init; } = "tokenizer";

    /// <summary>The paper's setting: ViT-B/14-reg4 at 518 + BioMedLM with LoRA.</summary>
    public static MaMAConfig Paper { get; } = new();

    /// <summary>
    /// A configuration that trains in minutes on two CPU cores: tiny ViT (42x42) and GPT-2 (C 32)
    /// with the built-in GPT-2 tokenizer (MaMA tokens at 50257..50262), E 32, local hidden 64.
    /// </summary>
    public static MaMAConfig Tiny { get; } = new()
    {
        Vision = VisionConfig.Tiny,
        Text = Gpt2Config.Tiny,
        EmbedDim = 32,
        LocalHiddenDim = 64,
        LateLossStep = 0,
        SepTokenId = 50260,
        PadTokenId = 50258,
        Tokenizer = "gpt2",
    };

    /// <summary>
    /// The model of <c>mama demo</c> (two CPU cores, minutes): <see cref="Tiny"/>'s text encoder with a
    /// 70x70 ViT of 7-px patches (a 10x10 grid), C 64, 4 blocks of 4 heads, MLP 256, and a late-loss
    /// step early in the demo's 3000 steps (CLIP(v1, t) alone first, as the paper does, then the
    /// second view, NT-Xent and SLA). Why this shape: the synthetic masses are 2-4 px across at 70 px.
    /// Inside a 14-px patch they barely move the patch's pixel mean (hand-made features of 14-px patch
    /// means reach BI-RADS balanced accuracy 0.18, of 7-px patch means 0.31, of 3x3 pixel maxima
    /// 0.51; tools/phantom-birads-features.cs), and the 14-px C32 x2 ViT stayed at chance on BI-RADS even when fine-tuned with labels;
    /// this one reaches a probe of 0.30 (chance 0.14). LayerScale starts at 1.0 as in the published
    /// DINOv2 models. At the paper's 518 px, 14-px patches cover such masses with several tokens.
    /// <para>
    /// GPT-2's training dropouts (embd, attn, resid 0.1: BioMedLM's, kept by <see cref="Paper"/> and
    /// <see cref="Tiny"/>) are off here; LoRA's 0.1 stays. The demo's text base is a random GPT-2,
    /// frozen under LoRA, where they only blur random features rather than regularise a pre-trained
    /// model: with them (commit 3e117d6) the demo measured zero-shot density 0.928 and BI-RADS 0.179
    /// against 0.974 and 0.286 without (seed 0; README).
    /// </para>
    /// </summary>
    public static MaMAConfig Demo { get; } = Tiny with
    {
        Vision = VisionConfig.Tiny with
        {
            ImageSize = 70, PatchSize = 7, PositionGrid = 10, EmbedDim = 64, Depth = 4, NumHeads = 4, MlpHiddenDim = 256, LayerScaleInit = 1f,
        },
        LateLossStep = 400,
        Text = Gpt2Config.Tiny with { EmbdPdrop = 0f, AttnPdrop = 0f, ResidPdrop = 0f },
    };

    public void Validate()
    {
        Vision.Validate();
        Text.Validate();
        if (EmbedDim <= 0 || LocalHiddenDim <= 0) throw new ArgumentException("mama: embed_dim and local_hidden_dim must be positive.");
        if (LateLossStep < 0) throw new ArgumentException("mama: late_loss_step must be >= 0.");
        if (!(NtXentTemperature > 0f)) throw new ArgumentException("mama: nt_xent_temperature must be positive.");
        if (SepTokenId < 0 || SepTokenId >= Text.VocabSize || PadTokenId < 0 || PadTokenId >= Text.VocabSize)
            throw new ArgumentException($"mama: sep_token_id ({SepTokenId}) and pad_token_id ({PadTokenId}) must be below text.vocab_size ({Text.VocabSize}).");
    }
}
