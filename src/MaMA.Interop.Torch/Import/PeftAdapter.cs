using System.Text.Json.Nodes;
using MaMA.Model.Checkpoints;
using MaMA.Model.Text;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// A PEFT <c>save_pretrained</c> folder: <c>adapter_config.json</c> (r, lora_alpha (PEFT's default 8),
/// lora_dropout, target_modules, fan_in_fan_out; use_rslora folded into alpha; DoRA and per-module
/// rank_pattern / alpha_pattern refused) and <c>adapter_model.safetensors</c> or <c>adapter_model.bin</c>
/// with keys <c>base_model.model.transformer.h.N.attn.c_attn.lora_A.weight</c> (no adapter name).
/// The importer merges these tensors into the base checkpoint's; the key rules map them onto the
/// model's <c>lora_A.default.weight</c>.
/// </summary>
public static class PeftAdapter
{
    public const string ConfigFile = "adapter_config.json";

    public static readonly string[] WeightNames = ["adapter_model.safetensors", "adapter_model.bin"];

    public static (CheckpointSource Source, LoraConfig Lora) Open(string dir)
    {
        string full = Path.GetFullPath(dir);
        string configPath = Path.Combine(full, ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{full}: not a PEFT adapter folder (no {ConfigFile}).", configPath);
        JsonObject cfg = CheckpointReader.ReadJson(configPath);
        string? type = cfg["peft_type"]?.GetValue<string>();
        if (type is not null && type != "LORA") throw new InvalidDataException($"{configPath}: peft_type '{type}' is not supported (LORA is).");
        if (cfg["use_dora"] is JsonValue dora && dora.TryGetValue(out bool d) && d)
            throw new InvalidDataException($"{configPath}: DoRA adapters (use_dora) are not supported.");
        int rank = cfg["r"]?.GetValue<int>() ?? throw new InvalidDataException($"{configPath}: no 'r'.");
        foreach (string pattern in new[] { "rank_pattern", "alpha_pattern" })
            if (cfg[pattern] is JsonObject { Count: > 0 } perModule)
                throw new InvalidDataException($"{configPath}: {pattern} gives modules their own {(pattern == "rank_pattern" ? "rank" : "alpha")} " +
                                               $"({string.Join(", ", perModule.Select(kv => kv.Key))}); the engine has one rank and alpha per model.");
        // PEFT's LoraConfig defaults lora_alpha to 8. rsLoRA scales by alpha / sqrt(r) instead of alpha / r:
        // the same scaling is alpha sqrt(r) / r, so the adapter keeps its output with the engine's alpha / r.
        float alpha = cfg["lora_alpha"]?.GetValue<float>() ?? 8f;
        bool rsLora = cfg["use_rslora"] is JsonValue rs && rs.TryGetValue(out bool r) && r;
        var lora = new LoraConfig
        {
            Rank = rank,
            Alpha = rsLora ? alpha * MathF.Sqrt(rank) : alpha,
            Dropout = cfg["lora_dropout"]?.GetValue<float>() ?? 0f,
            TargetModules = cfg["target_modules"] switch
            {
                JsonArray a => a.Select(n => n!.GetValue<string>()).ToList(),
                JsonValue v when v.TryGetValue(out string? one) => [one],
                _ => throw new InvalidDataException($"{configPath}: target_modules must be a list of module names."),
            },
        };
        string weights = WeightNames.Select(n => Path.Combine(full, n)).FirstOrDefault(File.Exists)
                         ?? throw new FileNotFoundException($"{full}: the adapter folder has no {string.Join(" or ", WeightNames)}.");
        CheckpointSource source = CheckpointReader.Open(weights);
        var bad = source.Tensors.Keys.Where(k => !PeftKeyNames.IsLora(k)).ToList();
        if (bad.Count > 0)
        {
            source.Dispose();
            throw new InvalidDataException($"{weights}: adapter files hold LoRA factors only; found {string.Join(", ", bad.Take(5))}{(bad.Count > 5 ? ", ..." : "")}.");
        }
        return (source, lora);
    }
}
