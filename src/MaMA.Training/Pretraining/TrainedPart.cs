using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;
using MaMA.Training.Checkpoints;

namespace MaMA.Training.Pretraining;

/// <summary>
/// What a pre-training checkpoint stores of the model: every persistent buffer (BatchNorm running
/// statistics) and every parameter that trains at some step of the run (frozen before the late-loss
/// step counts as training: the local heads and local_scale join there). The rest, frozen for the
/// whole run (BioMedLM's base weights under LoRA, the ViT's mask token and final norm; 10 GB of
/// the paper model's 10.4 GB), is described by <see cref="Frozen"/> and rebuilt from the run's
/// <c>model</c> on resume.
/// </summary>
public sealed class TrainedPart
{
    private readonly HashSet<string> _frozen;

    private TrainedPart(HashSet<string> frozen, FrozenBase description)
    {
        _frozen = frozen;
        Frozen = description;
    }

    /// <summary>The frozen tensors the checkpoints leave out, with their checksum.</summary>
    public FrozenBase Frozen { get; }

    /// <summary>
    /// Finds the parameters frozen both before and from the late-loss step (the model's freezing is
    /// left as at step 0; <see cref="MaMAModel.Forward"/> re-applies it per step) and checksums them.
    /// </summary>
    public static TrainedPart Of(MaMAModel model, string modelSpec, string? weightsDirectory)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.ApplyFreezing(model.Config.LateLossStep);
        var frozenLate = model.NamedParameters().Where(np => np.Parameter.IsFrozen).Select(np => np.Name).ToHashSet(StringComparer.Ordinal);
        model.ApplyFreezing(0);
        var frozen = model.NamedParameters().Where(np => np.Parameter.IsFrozen && frozenLate.Contains(np.Name)).Select(np => np.Name).ToHashSet(StringComparer.Ordinal);
        var tensors = model.StateDict().Where(kv => frozen.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new TrainedPart(frozen, FrozenBase.Of(modelSpec, weightsDirectory, tensors));
    }

    /// <summary>The live tensors a checkpoint stores (the state dict without the frozen ones).</summary>
    public Dictionary<string, Tensor> StateDict(MaMAModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.StateDict().Where(kv => !_frozen.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// Loads a checkpoint's model file: format 2 after checking that its frozen base is the one just
    /// built (<see cref="InvalidOperationException"/> otherwise) and that it holds exactly the
    /// stored names (<see cref="InvalidDataException"/>); format 1 (the whole state dict) strictly.
    /// </summary>
    public void Load(MaMAModel model, LoadedCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (checkpoint.State.FrozenBase is not { } stored)
        {
            model.LoadSafetensors(checkpoint.ModelPath, strict: true);
            return;
        }
        stored.CheckSameAs(Frozen, checkpoint.Folder);
        var expected = StateDict(model).Keys.ToHashSet(StringComparer.Ordinal);
        using (SafetensorsFile file = Safetensors.Open(checkpoint.ModelPath))
        {
            var names = file.Names.ToHashSet(StringComparer.Ordinal);
            if (!names.SetEquals(expected))
                throw new InvalidDataException($"{checkpoint.ModelPath}: holds {names.Except(expected).Count()} tensors this run does not train " +
                                               $"({string.Join(", ", names.Except(expected).Take(3))}) and lacks {expected.Except(names).Count()} it does ({string.Join(", ", expected.Except(names).Take(3))}).");
        }
        model.LoadSafetensors(checkpoint.ModelPath, strict: false);
    }
}
