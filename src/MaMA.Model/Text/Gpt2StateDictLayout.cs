namespace MaMA.Model.Text;

/// <summary>
/// The keys and shapes of <see cref="Gpt2Model"/>'s state dict for a config, in state-dict order,
/// computed without building the model (BioMedLM's 2.6e9 fp32 parameters are 10 GB). Checkpoint
/// import can check a file against it before allocating anything; a test checks that it matches
/// the built module for small configs.
/// </summary>
public static class Gpt2StateDictLayout
{
    /// <summary>Key ("transformer.h.0.attn.c_attn.weight") and shape, plus whether the parameter trains.</summary>
    public readonly record struct Entry(string Key, int[] Shape, bool Trainable)
    {
        public long Numel => Shape.Aggregate(1L, (n, d) => n * d);
    }

    public static IReadOnlyList<Entry> For(Gpt2Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        bool baseTrains = config.Lora is null;
        int c = config.NEmbd;
        var entries = new List<Entry>
        {
            new("transformer.wte.weight", [config.VocabSize, c], baseTrains),
            new("transformer.wpe.weight", [config.NPositions, c], baseTrains),
        };
        for (int layer = 0; layer < config.NLayer; layer++)
        {
            string p = $"transformer.h.{layer}.";
            Norm(p + "ln_1");
            Projection(p, "attn.c_attn", c, 3 * c);
            Projection(p, "attn.c_proj", c, c);
            Norm(p + "ln_2");
            Projection(p, "mlp.c_fc", c, config.NInner);
            Projection(p, "mlp.c_proj", config.NInner, c);
        }
        Norm("transformer.ln_f");
        return entries;

        void Norm(string name)
        {
            entries.Add(new(name + ".weight", [c], baseTrains));
            entries.Add(new(name + ".bias", [c], baseTrains));
        }

        void Projection(string prefix, string name, int inFeatures, int outFeatures)
        {
            string key = prefix + name;
            entries.Add(new(key + ".weight", [inFeatures, outFeatures], baseTrains));
            entries.Add(new(key + ".bias", [outFeatures], baseTrains));
            if (!Gpt2Projection.IsTargeted(config.Lora, name)) return;
            int r = config.Lora!.Rank;
            entries.Add(new(key + ".lora_A.default.weight", [r, inFeatures], true));
            entries.Add(new(key + ".lora_B.default.weight", [outFeatures, r], true));
        }
    }
}
