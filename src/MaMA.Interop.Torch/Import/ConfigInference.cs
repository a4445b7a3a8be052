using System.Text.Json.Nodes;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// Model configs from a checkpoint's tensor shapes (by core name, <see cref="ArchKeyRules.Core"/>)
/// and, where shapes cannot tell (attention heads, flags, epsilons), a Hugging Face
/// <c>config.json</c>. Shapes win over the JSON when both speak (a MaMA checkpoint's wte has 28902
/// rows while BioMedLM's config says 28896); rules used instead of a stated value are reported.
/// </summary>
public static class ConfigInference
{
    /// <summary>DINOv2 ViTs use 64-wide heads (ViT-S/B/L/g: 6/12/16/24 heads).</summary>
    public const int DinoHeadDim = 64;

    public static ModelConfigFile Infer(ModelArch arch, IReadOnlyDictionary<string, TensorSource> source, JsonObject? hf, LoraConfig? adapterLora, List<string> notes) => arch switch
    {
        ModelArch.Dinov2 => ModelConfigFile.ForVision(Vision(Cores(ArchKeyRules.For(arch), source), hf, notes)),
        ModelArch.Gpt2 => ModelConfigFile.ForText(Text(Cores(ArchKeyRules.For(arch), source), hf, adapterLora, notes)),
        ModelArch.Mama => ModelConfigFile.ForMaMA(MaMA(source, hf, adapterLora, notes)),
        _ => throw new ArgumentOutOfRangeException(nameof(arch)),
    };

    /// <summary>Shapes by core name within this arch's part of the checkpoint.</summary>
    public static Dictionary<string, int[]> Cores(ArchKeyRules rules, IReadOnlyDictionary<string, TensorSource> source)
    {
        var result = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach ((string key, TensorSource t) in KeyMapper.SelectPart(rules, source).Keys) result[rules.Core(key)] = t.Shape;
        return result;
    }

    public static VisionConfig Vision(IReadOnlyDictionary<string, int[]> s, JsonObject? hf, List<string> notes)
    {
        int[] patch = Need(s, "patch_embed.proj.weight", "DINOv2");  // [C, in, p, p]
        int c = patch[0];
        int depth = CountIndexed(s, "blocks.", ".norm1.weight");
        int mlp = Need(s, "blocks.0.mlp.fc1.weight", "DINOv2")[0];   // Linear [hidden, C]
        int registers = s.TryGetValue("register_tokens", out int[]? reg) ? reg[1] : 0;
        int posRows = Need(s, "pos_embed", "DINOv2")[1] - 1;          // [1, 1 + M*M, C]
        int grid = (int)Math.Round(Math.Sqrt(posRows));
        if (grid * grid != posRows) throw new InvalidDataException($"pos_embed has {posRows} patch rows, not a square grid.");
        int heads = Int(hf, "num_attention_heads") ?? (c % DinoHeadDim == 0 ? c / DinoHeadDim : 0);
        if (heads <= 0) throw new InvalidDataException($"cannot infer the number of heads of a {c}-wide ViT (not a multiple of {DinoHeadDim}); pass --config with num_heads.");
        if (Int(hf, "num_attention_heads") is null) notes.Add($"vision heads = {c}/{DinoHeadDim} = {heads} (DINOv2's head width; no config said otherwise)");
        return new VisionConfig
        {
            PatchSize = patch[2],
            InChannels = patch[1],
            EmbedDim = c,
            Depth = depth,
            NumHeads = heads,
            MlpHiddenDim = mlp,
            NumRegisters = registers,
            PositionGrid = grid,
            ImageSize = grid * patch[2],
            LayerNormEps = (float?)Double(hf, "layer_norm_eps") ?? 1e-6f,
        };
    }

    public static Gpt2Config Text(IReadOnlyDictionary<string, int[]> s, JsonObject? hf, LoraConfig? adapterLora, List<string> notes)
    {
        int[] wte = Need(s, "wte.weight", "GPT-2");                   // [V, C]
        int c = wte[1];
        int layers = CountIndexed(s, "h.", ".ln_1.weight");
        int[] fc = Need(s, "h.0.mlp.c_fc.weight", "GPT-2");           // Conv1D [C, inner] (or transposed)
        int inner = fc[0] == c ? fc[1] : fc[0];
        int? stated = Int(hf, "n_head");
        int heads = stated ?? (c == 2560 ? 20 : c % 64 == 0 ? c / 64 : 0);
        if (heads <= 0) throw new InvalidDataException($"cannot infer the number of heads of a {c}-wide GPT-2; pass a config.json with n_head (--config).");
        if (stated is null) notes.Add($"text heads = {heads} ({(c == 2560 ? "BioMedLM" : "64-wide heads")}; no config.json said otherwise)");
        if (Int(hf, "vocab_size") is { } v && v != wte[0]) notes.Add($"config.json says vocab_size {v}; the embedding has {wte[0]} rows (used)");
        bool inverseLayer = Bool(hf, "scale_attn_by_inverse_layer_idx") ?? c == 2560;
        if (hf is null) notes.Add($"scale_attn_by_inverse_layer_idx = {inverseLayer.ToString().ToLowerInvariant()} ({(c == 2560 ? "BioMedLM" : "HF GPT-2 default")}; no config.json)");
        if (hf is null) notes.Add("embd_pdrop, attn_pdrop, resid_pdrop = 0.1 (HF GPT-2's and BioMedLM's training dropouts; no config.json)");
        LoraConfig? lora = adapterLora ?? LoraFromShapes(s, notes);
        return new Gpt2Config
        {
            VocabSize = wte[0],
            NPositions = Need(s, "wpe.weight", "GPT-2")[0],
            NEmbd = c,
            NLayer = layers,
            NHead = heads,
            NInner = inner,
            LayerNormEpsilon = (float?)Double(hf, "layer_norm_epsilon") ?? 1e-5f,
            ScaleAttnByInverseLayerIdx = inverseLayer,
            ScaleAttnWeights = Bool(hf, "scale_attn_weights") ?? true,
            ActivationFunction = Str(hf, "activation_function") ?? "gelu_new",
            // HF GPT2Config's defaults (BioMedLM's config.json states the same 0.1).
            EmbdPdrop = (float?)Double(hf, "embd_pdrop") ?? 0.1f,
            AttnPdrop = (float?)Double(hf, "attn_pdrop") ?? 0.1f,
            ResidPdrop = (float?)Double(hf, "resid_pdrop") ?? 0.1f,
            Lora = lora,
        };
    }

    public static MaMAConfig MaMA(IReadOnlyDictionary<string, TensorSource> source, JsonObject? hf, LoraConfig? adapterLora, List<string> notes)
    {
        VisionConfig vision = Vision(Cores(ArchKeyRules.For(ModelArch.Dinov2), source), null, notes);
        Gpt2Config text = Text(Cores(ArchKeyRules.For(ModelArch.Gpt2), source), hf, adapterLora, notes);
        var s = Cores(ArchKeyRules.For(ModelArch.Mama), source);
        int embed = Need(s, "img_encoder_q.global_embed.weight", "MaMA")[0];         // Linear [E, C]
        int hidden = Need(s, "img_encoder_q.local_embed.head.0.weight", "MaMA")[0];  // Conv1d [H, C, 1]
        MaMAConfig basis = text.VocabSize == Gpt2Config.Tiny.VocabSize ? MaMAConfig.Tiny : MaMAConfig.Paper;
        notes.Add($"token ids and training settings from the {(ReferenceEquals(basis, MaMAConfig.Tiny) ? "tiny (GPT-2 vocabulary)" : "paper")} MaMA config "
                  + $"(sep {basis.SepTokenId}, pad {basis.PadTokenId}, tokenizer '{basis.Tokenizer}', late loss step {basis.LateLossStep})");
        return basis with { Vision = vision, Text = text, EmbedDim = embed, LocalHiddenDim = hidden };
    }

    /// <summary>LoRA inferred from <c>lora_A</c> shapes (rank) when the checkpoint carries adapters; PEFT defaults for alpha and dropout.</summary>
    private static LoraConfig? LoraFromShapes(IReadOnlyDictionary<string, int[]> s, List<string> notes)
    {
        var a = s.Where(kv => kv.Key.EndsWith(".lora_A.weight", StringComparison.Ordinal)).ToList();
        if (a.Count == 0) return null;
        int rank = a[0].Value[0];
        // "h.0.attn.c_attn.lora_A.weight" -> "attn.c_attn" (not "c_attn", which would also match mlp.c_proj's sibling names).
        var targets = a.Select(kv => string.Join('.', kv.Key.Split('.')[2..^2])).Distinct().Order(StringComparer.Ordinal).ToList();
        var lora = new LoraConfig { Rank = rank, TargetModules = targets };
        notes.Add($"LoRA r {rank} on {string.Join(", ", targets)} from the adapter shapes; alpha {lora.Alpha} and dropout {lora.Dropout} are MaMA's (not stored in state dicts)");
        return lora;
    }

    private static int[] Need(IReadOnlyDictionary<string, int[]> s, string core, string what) =>
        s.TryGetValue(core, out int[]? shape) ? shape : throw new InvalidDataException($"not a {what} checkpoint: it has no '{core}' (or a wrapped spelling of it).");

    private static int CountIndexed(IReadOnlyDictionary<string, int[]> s, string prefix, string suffix)
    {
        int n = 0;
        while (s.ContainsKey($"{prefix}{n}{suffix}")) n++;
        return n;
    }

    private static int? Int(JsonObject? o, string name) => o?[name] is JsonValue v && v.TryGetValue(out int i) ? i : null;

    private static double? Double(JsonObject? o, string name) => o?[name] is JsonValue v && v.TryGetValue(out double d) ? d : null;

    private static bool? Bool(JsonObject? o, string name) => o?[name] is JsonValue v && v.TryGetValue(out bool b) ? b : null;

    private static string? Str(JsonObject? o, string name) => o?[name] is JsonValue v && v.TryGetValue(out string? t) ? t : null;
}
