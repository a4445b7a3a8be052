using System.Text.RegularExpressions;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// The spellings PEFT uses for the same LoRA weights: in memory <c>c_attn.lora_A.default.weight</c>,
/// in <c>save_pretrained</c> files <c>c_attn.lora_A.weight</c> (adapter name removed), and since
/// PEFT 0.7 the wrapped base weights as <c>c_attn.base_layer.weight</c> instead of <c>c_attn.weight</c>.
/// <see cref="Canonical"/> maps all of them to one form (no <c>base_layer.</c>, no adapter name) so
/// a source key and a model key match whichever spelling each side uses.
/// </summary>
public static partial class PeftKeyNames
{
    public static string Canonical(string key)
    {
        key = key.Replace(".base_layer.", ".", StringComparison.Ordinal);
        return AdapterName().Replace(key, ".lora_$1.$2");
    }

    /// <summary>True for LoRA factor keys in any spelling.</summary>
    public static bool IsLora(string key) => key.Contains(".lora_A.", StringComparison.Ordinal) || key.Contains(".lora_B.", StringComparison.Ordinal);

    // lora_A.<adapter>.weight -> lora_A.weight (the adapter name is any identifier except the tensor name itself).
    [GeneratedRegex(@"\.lora_(A|B)\.(?!weight$|bias$)[A-Za-z0-9_\-]+\.(weight|bias)$")]
    private static partial Regex AdapterName();
}
