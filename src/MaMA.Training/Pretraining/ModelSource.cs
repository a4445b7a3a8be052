using MaMA.Data.Text;
using MaMA.Engine.Nn;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Pretraining;

/// <summary>
/// The model a run starts from, named by the config's <c>model</c> key: "tiny" and "paper"
/// (<see cref="MaMAConfig.Tiny"/> / <see cref="MaMAConfig.Paper"/>, weights drawn from the seed),
/// a model directory (config.json + model.safetensors, e.g. from <c>mama import</c>; weights loaded
/// strictly), or a bare config.json (weights drawn from the seed). Activation recomputation follows
/// the training config, not the model's.
/// </summary>
public static class ModelSource
{
    public sealed record Resolved(MaMAConfig Config, string? WeightsDirectory, string? TokenizerDirectory);

    /// <summary>Resolves <paramref name="model"/> without building anything.</summary>
    public static Resolved Resolve(string model, bool activationCheckpointing)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        switch (model)
        {
            case "tiny":
                return new Resolved(MaMAConfig.Tiny with { ActivationCheckpointing = activationCheckpointing }, null, null);
            case "paper":
                return new Resolved(MaMAConfig.Paper with { ActivationCheckpointing = activationCheckpointing }, null, null);
        }
        if (File.Exists(model))
        {
            ModelConfigFile file = ModelConfigFile.Load(model);
            return new Resolved(MaMAOf(file, model) with { ActivationCheckpointing = activationCheckpointing }, null, null);
        }
        if (Directory.Exists(model))
        {
            ModelConfigFile file = ModelConfigFile.Load(Path.Combine(model, ModelConfigFile.FileName));
            string tokenizer = Path.Combine(model, "tokenizer");
            return new Resolved(MaMAOf(file, model) with { ActivationCheckpointing = activationCheckpointing }, Path.GetFullPath(model),
                Directory.Exists(tokenizer) ? tokenizer : null);
        }
        throw new FileNotFoundException($"model '{model}' is neither \"tiny\", \"paper\", a model directory nor a config.json file " +
                                        "(the published start, the pre-trained encoders, is made by `mama assemble`; docs/checkpoints.md).", model);
    }

    /// <summary>
    /// Builds the model on <paramref name="device"/>: weights drawn from <paramref name="seed"/>, or,
    /// from a model directory, loaded strictly without drawing first (<see cref="WeightInit.Skip"/>).
    /// Either way every dropout site, LoRA's included, is keyed by <paramref name="seed"/>.
    /// </summary>
    public static MaMAModel Build(Resolved resolved, ulong seed, Device device)
    {
        MaMAModel model;
        if (resolved.WeightsDirectory is { } dir)
        {
            using ModelCheckpoint checkpoint = ModelDirectory.Load(dir);
            using (WeightInit.Skip()) model = new MaMAModel(resolved.Config, new Random(unchecked((int)seed)), device);
            ModelFactory.LoadInto(model, checkpoint);
        }
        else
        {
            model = new MaMAModel(resolved.Config, new Random(unchecked((int)seed)), device);
        }
        model.SeedDropout(seed);
        // Names every parameter with its state-dict key (optimizer state and checkpoints use them).
        _ = model.NamedParameters().Count();
        return model;
    }

    /// <summary>
    /// The tokenizer the config names: "gpt2" (built in) or a folder inside the model directory.
    /// The paper's BioMedLM tokenizer ships with a model directory only (<c>mama assemble</c>, <c>mama import</c>).
    /// </summary>
    public static MaMATokenizer Tokenizer(Resolved resolved)
    {
        if (string.Equals(resolved.Config.Tokenizer, "gpt2", StringComparison.OrdinalIgnoreCase)) return MaMATokenizer.Load("gpt2");
        if (resolved.TokenizerDirectory is { } dir) return MaMATokenizer.Load(dir);
        throw new FileNotFoundException(
            $"The model's tokenizer '{resolved.Config.Tokenizer}' is not built in: set \"model\" to a MaMA model folder that holds it, " +
            "assembled from the pre-trained encoders (`mama import` DINOv2 and BioMedLM, then `mama assemble`; docs/checkpoints.md) " +
            "or imported from a MaMA checkpoint, or use \"model\": \"tiny\".");
    }

    private static MaMAConfig MaMAOf(ModelConfigFile file, string source) =>
        file.Arch == ModelArch.Mama && file.Mama is { } mama
            ? mama
            : throw new InvalidDataException($"{source}: holds a {file.Arch} model; pre-training needs a MaMA model (arch \"mama\").");
}
