using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// Per architecture, how a checkpoint's key is reduced to a "core" name that does not depend on
/// wrappers (DDP's <c>module.</c>, PEFT's <c>base_model.model.</c>, HF GPT2Model files without
/// <c>transformer.</c>, PEFT spellings), which sub-tree of a larger checkpoint holds the model
/// (<see cref="PartPrefixes"/>: the ViT inside a MaMA or DINOv2 training checkpoint, the GPT-2
/// inside MaMA), and which keys are dropped on purpose (<see cref="DropReason"/>). Model keys are
/// reduced the same way, and a source key maps to the model key with the same core.
/// </summary>
public sealed class ArchKeyRules
{
    private readonly string[] _stripPrefixes;

    private ArchKeyRules(ModelArch arch, string[] partPrefixes, string[] stripPrefixes)
    {
        Arch = arch;
        PartPrefixes = partPrefixes;
        _stripPrefixes = stripPrefixes;
    }

    public ModelArch Arch { get; }

    /// <summary>
    /// Prefixes of the part of a bigger checkpoint that holds this model, most specific first. When
    /// some source keys start with one, only those keys are imported; the others belong to other
    /// parts (heads, the other encoder, optimizer copies) and are reported as ignored.
    /// </summary>
    public IReadOnlyList<string> PartPrefixes { get; }

    public static ArchKeyRules For(ModelArch arch) => arch switch
    {
        ModelArch.Dinov2 => new(arch, ["img_encoder_q.model.", "teacher.backbone.", "student.backbone.", "backbone."], ["module.", "model."]),
        ModelArch.Gpt2 => new(arch, ["text_encoder_q.model."], ["module.", "base_model.model.", "transformer."]),
        ModelArch.Mama => new(arch, [], ["module."]),
        _ => throw new ArgumentOutOfRangeException(nameof(arch)),
    };

    /// <summary>The key without wrappers and in canonical PEFT spelling.</summary>
    public string Core(string key)
    {
        bool stripped = true;
        while (stripped)
        {
            stripped = false;
            foreach (string p in _stripPrefixes)
                if (key.StartsWith(p, StringComparison.Ordinal))
                {
                    key = key[p.Length..];
                    stripped = true;
                }
        }
        return PeftKeyNames.Canonical(key);
    }

    /// <summary>
    /// Why a source key with this core is dropped rather than reported as unexpected, or null:
    /// GPT-2's tied LM head (the text encoder has none) and its causal-mask buffers (rebuilt, never learned).
    /// </summary>
    public string? DropReason(string core)
    {
        if (core.EndsWith(".attn.bias", StringComparison.Ordinal) || core.EndsWith(".attn.masked_bias", StringComparison.Ordinal))
            return "GPT-2 causal-mask buffer";
        if (core == "lm_head.weight" || core.EndsWith(".model.lm_head.weight", StringComparison.Ordinal) || core.EndsWith("base_model.model.lm_head.weight", StringComparison.Ordinal))
            return "GPT-2 LM head (tied to wte; MaMA's text encoder has none)";
        if (Arch == ModelArch.Dinov2 && (core.StartsWith("dino_head.", StringComparison.Ordinal) || core.StartsWith("ibot_head.", StringComparison.Ordinal)))
            return "DINOv2 training head";
        return null;
    }
}
