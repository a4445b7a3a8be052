using System.Text.Json.Serialization;

namespace MaMA.Model.Text;

/// <summary>
/// GPT-2 architecture as in Hugging Face's GPT2Config (SPEC section 4). The defaults are
/// BioMedLM 2.7B: 32 layers, 20 heads (D 128), n_embd 2560, MLP 10240 (tanh GELU), 1024 positions,
/// LayerNorm eps 1e-5, attention scores also scaled by 1/(layer_index + 1), dropout 0.1 on the
/// embeddings, the attention probabilities and both residual branches in training. The vocabulary is
/// the base 28896 plus MaMA's six added special tokens (28902).
/// </summary>
public sealed record Gpt2Config
{
    /// <summary>Rows of <c>wte</c> (after MaMA's resize: base vocabulary + 6 special tokens).</summary>
    public int VocabSize { get; init; } = 28902;

    public int NPositions { get; init; } = 1024;

    /// <summary>C.</summary>
    public int NEmbd { get; init; } = 2560;

    public int NLayer { get; init; } = 32;

    /// <summary>H; D = NEmbd / NHead.</summary>
    public int NHead { get; init; } = 20;

    /// <summary>MLP width (HF: n_inner, null meaning 4 * n_embd).</summary>
    public int NInner { get; init; } = 10240;

    public float LayerNormEpsilon { get; init; } = 1e-5f;

    /// <summary>HF scale_attn_by_inverse_layer_idx: scores also times 1/(layer_index + 1).</summary>
    public bool ScaleAttnByInverseLayerIdx { get; init; } = true;

    /// <summary>HF scale_attn_weights: scores times 1/sqrt(D).</summary>
    public bool ScaleAttnWeights { get; init; } = true;

    /// <summary>HF activation_function; MaMA's models use "gelu_new" (tanh approximation).</summary>
    public string ActivationFunction { get; init; } = "gelu_new";

    /// <summary>HF embd_pdrop: dropout on wte + wpe in training (BioMedLM and HF's default: 0.1).</summary>
    public float EmbdPdrop { get; init; } = 0.1f;

    /// <summary>HF attn_pdrop: dropout on the attention probabilities in training (0.1).</summary>
    public float AttnPdrop { get; init; } = 0.1f;

    /// <summary>HF resid_pdrop: dropout on each branch's output (attention and MLP c_proj) before the residual add, in training (0.1).</summary>
    public float ResidPdrop { get; init; } = 0.1f;

    /// <summary>Adapter on the attention projection; null for the plain model.</summary>
    public LoraConfig? Lora { get; init; } = new();

    [JsonIgnore]
    public int HeadDim => NEmbd / NHead;

    /// <summary>This config with every dropout at 0 (embedding, attention, residual and LoRA's): training forwards then equal evaluation ones, as reference comparisons need.</summary>
    public Gpt2Config WithoutDropout() => this with
    {
        EmbdPdrop = 0f, AttnPdrop = 0f, ResidPdrop = 0f, Lora = Lora is null ? null : Lora with { Dropout = 0f },
    };

    /// <summary>BioMedLM (stanford-crfm/BioMedLM) with MaMA's vocabulary and LoRA.</summary>
    public static Gpt2Config BioMedLM { get; } = new();

    /// <summary>A tiny GPT-2 for tests and the CPU demo: the GPT-2 vocabulary + MaMA tokens (50263), C 32, 2 layers, 2 heads, 160 positions (dropouts as BioMedLM).</summary>
    public static Gpt2Config Tiny { get; } = new()
    {
        VocabSize = 50263, NPositions = 160, NEmbd = 32, NLayer = 2, NHead = 2, NInner = 128,
    };

    public void Validate()
    {
        if (VocabSize <= 0 || NPositions <= 0 || NLayer < 0 || NInner <= 0)
            throw new ArgumentException("text: vocab_size, n_positions, n_inner must be positive and n_layer >= 0.");
        if (NEmbd <= 0 || NHead <= 0 || NEmbd % NHead != 0)
            throw new ArgumentException($"text.n_embd ({NEmbd}) must be a positive multiple of text.n_head ({NHead}).");
        if (ActivationFunction is not ("gelu_new" or "gelu"))
            throw new ArgumentException($"text.activation_function '{ActivationFunction}' is not supported (gelu_new, gelu).");
        foreach ((string key, float p) in new[] { ("embd_pdrop", EmbdPdrop), ("attn_pdrop", AttnPdrop), ("resid_pdrop", ResidPdrop) })
            if (!(p >= 0f && p < 1f)) throw new ArgumentException($"text.{key} must be in [0, 1), not {p}.");
        Lora?.Validate();
    }
}
