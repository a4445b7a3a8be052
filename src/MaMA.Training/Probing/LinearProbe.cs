using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Probing;

/// <summary>Linear probing (SPEC section 7): the ViT frozen, only Linear(C -> classes) on its pooled feature trains.</summary>
public static class LinearProbe
{
    public static ClassifierResult Run(ClassifierSettings settings, string outDir, Device device, Action<string>? say = null) =>
        new ClassifierTrainer(settings with { FineTune = false }, device, say).Train(outDir);
}
