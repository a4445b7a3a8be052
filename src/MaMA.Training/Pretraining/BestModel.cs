using System.Globalization;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;

namespace MaMA.Training.Pretraining;

/// <summary>
/// The run's model of the lowest validation loss, <c>RUN/best/</c>, as the published run keeps it
/// (Lightning <c>ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=1)</c> next to the last
/// one). Written whole (a model folder like <c>final/</c>, atomically) when a validation pass beats
/// every earlier one. Its loss and step live in the weights file's safetensors metadata
/// (<c>mama_val_loss</c>, <c>mama_step</c>), so they change together with the weights: a resumed
/// run reads them back from the folder and replaces it only with a lower loss, even when the run was
/// killed after writing it but before its next checkpoint.
/// </summary>
public sealed class BestModel
{
    public const string LossKey = "mama_val_loss";
    public const string StepKey = "mama_step";

    private BestModel(string dir, double loss, long step)
    {
        Directory = dir;
        Loss = loss;
        Step = step;
    }

    /// <summary>The folder (<c>RUN/best</c>).</summary>
    public string Directory { get; }

    /// <summary>The lowest validation loss written so far (+inf before any).</summary>
    public double Loss { get; private set; }

    /// <summary>The step (completed optimizer steps) of that validation; 0 before any.</summary>
    public long Step { get; private set; }

    /// <summary>
    /// The record in <paramref name="dir"/>: its weights' metadata, or none (+inf) when there is no
    /// model there yet, or one without the keys (a folder this class did not write).
    /// </summary>
    public static BestModel Read(string dir)
    {
        string weights = Path.Combine(dir, ModelDirectory.WeightsFile);
        if (!File.Exists(weights)) return new BestModel(dir, double.PositiveInfinity, 0);
        using SafetensorsFile file = Safetensors.Open(weights);
        return file.Metadata.TryGetValue(LossKey, out string? loss) && file.Metadata.TryGetValue(StepKey, out string? step)
            && double.TryParse(loss, NumberStyles.Float, CultureInfo.InvariantCulture, out double l)
            && long.TryParse(step, NumberStyles.Integer, CultureInfo.InvariantCulture, out long s)
            ? new BestModel(dir, l, s)
            : new BestModel(dir, double.PositiveInfinity, 0);
    }

    /// <summary>True when <paramref name="loss"/> is finite and below <see cref="Loss"/>.</summary>
    public bool Improves(double loss) => double.IsFinite(loss) && loss < Loss;

    /// <summary>Writes the model as the new best (call after <see cref="Improves"/>): the folder, then the record.</summary>
    public void Save(double loss, long step, ModelConfigFile config, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        if (!Improves(loss)) throw new ArgumentException($"validation loss {loss} does not improve on the best so far ({Loss}).", nameof(loss));
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [LossKey] = loss.ToString("R", CultureInfo.InvariantCulture),
            [StepKey] = step.ToString(CultureInfo.InvariantCulture),
        };
        ModelDirectory.Save(Directory, config, stateDict.ToDictionary(kv => kv.Key, kv => TensorSource.Of(kv.Value), StringComparer.Ordinal),
            new ModelDirectory.SaveOptions { Metadata = metadata });
        Loss = loss;
        Step = step;
    }
}
