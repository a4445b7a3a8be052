using System.Globalization;
using MaMA.Engine;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Evaluation.Golden;

/// <summary>
/// Records golden outputs: a model folder's named outputs (<see cref="NamedForward"/>, the names of
/// <c>mama forward</c>) for fixed inputs, with a manifest, into a golden folder that
/// <see cref="GoldenVerifier"/> later recomputes on another engine version, device or vendor.
/// The folder is built under a hidden temporary name beside the target and renamed into place
/// when complete, so a failed recording leaves nothing half-written.
/// </summary>
public static class GoldenRecorder
{
    /// <summary>
    /// Default relative tolerance of floating outputs: the engine computes in fp32, and devices differ
    /// in summation order (measured ~1e-6 between cpu and ilgpu-cpu); 1e-4 leaves room for GPUs.
    /// </summary>
    public const double DefaultTolerance = 1e-4;

    public static GoldenManifest Record(string modelDir, string inputsPath, string goldenDir, Device device, long? step = null, double tolerance = DefaultTolerance)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!(tolerance >= 0) || double.IsInfinity(tolerance)) throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "the tolerance must be a finite number >= 0.");
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(goldenDir));
        if (File.Exists(target)) throw new IOException($"'{target}' is a file; a golden record needs a folder there.");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !File.Exists(Path.Combine(target, GoldenManifest.FileName)))
            throw new IOException($"'{target}' exists and is not a golden folder (no {GoldenManifest.FileName}); refusing to replace it. Choose another --out or empty it.");

        (NamedForwardResult result, ModelConfigFile config, string sha) = GoldenModel.Run(modelDir, inputsPath, device, step);
        var tensors = result.Outputs.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new GoldenTensor(kv.Key, kv.Value.ShapeArray, kv.Value.DType.SafetensorsName(), kv.Value.DType.IsFloating() ? tolerance : 0))
            .ToArray();
        var manifest = new GoldenManifest
        {
            EngineVersion = EngineIdentity.Version,
            GitCommit = EngineIdentity.GitCommit(),
            Created = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Device = device.Spec,
            WeightsDtype = config.Dtype,
            Arch = config.Arch.ToString().ToLowerInvariant(),
            Model = Path.GetFullPath(modelDir),
            ModelSha256 = sha,
            InputsSha256 = WeightsChecksum.OfFile(inputsPath),
            Step = step,
            Tensors = tensors,
        };

        string parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{Path.GetFileName(target)}.partial-{Environment.ProcessId}-{Guid.NewGuid():N}");
        string old = Path.Combine(parent, $".{Path.GetFileName(target)}.replaced-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            File.Copy(inputsPath, Path.Combine(tmp, GoldenManifest.InputsFile));
            Safetensors.Write(Path.Combine(tmp, GoldenManifest.OutputsFile), result.Outputs.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
                new Dictionary<string, string> { ["format"] = "mama-golden-1", ["device"] = device.Spec, ["engine_version"] = manifest.EngineVersion });
            File.WriteAllText(Path.Combine(tmp, GoldenManifest.FileName), manifest.ToJson());
            bool replacing = Directory.Exists(target);
            if (replacing) Directory.Move(target, old);
            try
            {
                Directory.Move(tmp, target);
            }
            catch
            {
                if (replacing) Directory.Move(old, target);
                throw;
            }
            if (replacing) Directory.Delete(old, recursive: true);
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
        return manifest;
    }
}
