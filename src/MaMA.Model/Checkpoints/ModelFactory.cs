using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Checkpoints;

/// <summary>
/// Builds the module a <see cref="ModelConfigFile"/> describes and fills it from a model folder
/// with a strict load (every key present, none extra, shapes equal; errors name the keys):
/// dinov2 -> <see cref="DinoVisionTransformer"/>, gpt2 -> <see cref="Gpt2Model"/> (or
/// <see cref="PeftGpt2Model"/>, PEFT's key layout, when the config has LoRA), mama -> <see cref="MaMAModel"/>.
/// </summary>
public static class ModelFactory
{
    /// <summary>A freshly initialised module (weights random from <paramref name="seed"/>).</summary>
    public static Module Create(ModelConfigFile config, int seed = 0, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var rng = new Random(seed);
        return config.Arch switch
        {
            ModelArch.Dinov2 => new DinoVisionTransformer(config.Vision!, rng, device),
            ModelArch.Gpt2 => config.Text!.Lora is null ? new Gpt2Model(config.Text, rng, device) : new PeftGpt2Model(config.Text, rng, device),
            ModelArch.Mama => new MaMAModel(config.Mama!, rng, device),
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.Arch, "unknown arch"),
        };
    }

    /// <summary>
    /// The module <paramref name="config"/> describes, built to be filled by a strict load: nothing is
    /// drawn (<see cref="WeightInit.Skip"/>), every weight is zero until then. For BioMedLM that saves
    /// the 2.6 B Box-Muller draws a seeded build makes (docs/checkpoints.md, "Loading without drawing").
    /// </summary>
    public static Module CreateToLoad(ModelConfigFile config, Device? device = null)
    {
        using (WeightInit.Skip()) return Create(config, device: device);
    }

    /// <summary>Opens <paramref name="dir"/> (checksum verified), builds its model and loads the weights strictly.</summary>
    public static Module Load(string dir, Device? device = null)
    {
        using ModelCheckpoint checkpoint = ModelDirectory.Load(dir);
        return Load(checkpoint, device);
    }

    /// <summary>Builds an opened folder's model without drawing (<see cref="CreateToLoad"/>) and loads its weights strictly (<see cref="LoadInto"/>).</summary>
    public static Module Load(ModelCheckpoint checkpoint, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        Module model = CreateToLoad(checkpoint.Config, device);
        LoadInto(model, checkpoint);
        return model;
    }

    /// <summary>Typed <see cref="Load(string, Device?)"/>: fails clearly when the folder holds another kind of model.</summary>
    public static T Load<T>(string dir, Device? device = null) where T : Module
    {
        Module model = Load(dir, device);
        return model as T ?? throw new InvalidDataException($"{dir}: holds a {model.GetType().Name}, not a {typeof(T).Name}.");
    }

    /// <summary>
    /// Strict load of an opened folder's weights into <paramref name="model"/>, then a check that every
    /// floating weight is finite: a NaN or Inf in a checkpoint (a diverged run saved as is, a damaged
    /// file without a recorded checksum) would otherwise surface later as NaN outputs far from the cause.
    /// </summary>
    public static void LoadInto(Module model, ModelCheckpoint checkpoint)
    {
        model.LoadSafetensors(checkpoint.Weights.Path, strict: true);
        CheckFinite(model.StateDict(), checkpoint.Weights.Path);
    }

    /// <summary>Throws, naming the tensor and <paramref name="source"/>, when a floating weight holds NaN or Inf.</summary>
    public static void CheckFinite(IEnumerable<KeyValuePair<string, Tensor>> weights, string source)
    {
        ArgumentNullException.ThrowIfNull(weights);
        foreach ((string name, Tensor t) in weights)
        {
            long bad = t.CountNonFinite();
            if (bad > 0)
                throw new InvalidDataException($"{source}: tensor '{name}' holds {bad} non-finite values (NaN/Inf); the weights are damaged or come from a diverged run.");
        }
    }
}
