using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Probing;

/// <summary>Full fine-tuning (SPEC section 7): the probing recipe with the ViT trainable (its always-frozen mask token and final norm excepted).</summary>
public static class FineTuner
{
    public static ClassifierResult Run(ClassifierSettings settings, string outDir, Device device, Action<string>? say = null) =>
        new ClassifierTrainer(settings with { FineTune = true }, device, say).Train(outDir);
}
