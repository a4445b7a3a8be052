using MaMA.Engine.Nn;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Evaluation.Golden;

/// <summary>Shared by record and verify: open a model folder and run its named forward on a safetensors input file.</summary>
internal static class GoldenModel
{
    /// <summary>Loads the model folder on <paramref name="device"/> (checksum verified, strict) and runs <see cref="NamedForward"/>.</summary>
    public static (NamedForwardResult Result, ModelConfigFile Config, string WeightsSha256) Run(string modelDir, string inputsPath, Device device, long? step)
    {
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (SafetensorsFile file = Safetensors.Open(inputsPath))
            foreach (string n in file.Names) inputs[n] = file.Load(n, device);
        ModelConfigFile config;
        Module model;
        string sha;
        using (ModelCheckpoint checkpoint = ModelDirectory.Load(modelDir))
        {
            config = checkpoint.Config;
            sha = config.WeightsSha256 ?? WeightsChecksum.OfFile(checkpoint.Weights.Path);
            model = ModelFactory.Load(checkpoint, device);
        }
        return (NamedForward.Run(model, config, inputs, step), config, sha);
    }
}
