namespace MaMA.Data.Text;

/// <summary>
/// The special tokens of the MaMA text pipeline. The six MaMA tokens are added after the base
/// vocabulary in the order of <see cref="AddedInOrder"/> (the order of the published
/// <c>tokenizer.add_special_tokens({...})</c> call), so for BioMedLM they get ids 28896..28901 and for
/// GPT-2 ids 50257..50262. <see cref="EndOfText"/> belongs to the base vocabulary.
/// </summary>
public static class MaMASpecialTokens
{
    /// <summary>The base GPT-2 / BioMedLM token; MaMA's EOS (the reference does not override eos_token).</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>bos_token: prepended to every caption.</summary>
    public const string Bos = "<|startoftext|>";

    /// <summary>pad_token: fills captions up to the maximum length.</summary>
    public const string Pad = "<|padtext|>";

    /// <summary>mask_token (unused by the reference training, kept for the id layout).</summary>
    public const string Mask = "<|masktext|>";

    /// <summary>sep_token: replaces every "." and ";"; marks the end of a sentence for the local loss.</summary>
    public const string Sep = "<|separatetext|>";

    /// <summary>unk_token (never produced by byte-level BPE, kept for the id layout).</summary>
    public const string Unk = "<|unknowntext|>";

    /// <summary>The single additional special token.</summary>
    public const string Key = "<|keytext|>";

    /// <summary>MaMA's six added tokens in the order they are added (and so in id order).</summary>
    public static IReadOnlyList<string> AddedInOrder { get; } = [Bos, Pad, Mask, Sep, Unk, Key];
}
