namespace MaMA.Model.Text;

/// <summary>
/// LoRA as PEFT applies it to GPT-2 in MaMA (SPEC section 4): on <c>c_attn</c> only, r 8, alpha 32
/// (scaling alpha / r = 4), dropout 0.1 on the adapter input; A Kaiming-uniform, B zeros.
/// </summary>
public sealed record LoraConfig
{
    public int Rank { get; init; } = 8;

    public float Alpha { get; init; } = 32f;

    public float Dropout { get; init; } = 0.1f;

    /// <summary>Module names (last path component) that get an adapter.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["c_attn"];

    public float Scaling => Alpha / Rank;

    public void Validate()
    {
        if (Rank <= 0) throw new ArgumentException($"lora.rank must be positive, not {Rank}.");
        if (!(Dropout >= 0f && Dropout < 1f)) throw new ArgumentException($"lora.dropout must be in [0, 1), not {Dropout}.");
        if (TargetModules.Count == 0) throw new ArgumentException("lora.target_modules is empty.");
    }
}
