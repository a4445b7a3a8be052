using System.Globalization;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Evaluation.Golden;

/// <summary>The outcome of <see cref="GoldenVerifier.Verify"/>: one check per recorded output, and notes.</summary>
public sealed record GoldenVerification(GoldenManifest Manifest, string Device, IReadOnlyList<GoldenCheck> Checks, IReadOnlyList<string> Notes)
{
    public bool Passed => Checks.All(c => c.Pass);

    public int Failures => Checks.Count(c => !c.Pass);

    /// <summary>The per-tensor table (name, shape, max abs, relative error, tolerance, verdict), then the notes and a summary line.</summary>
    public IEnumerable<string> Lines()
    {
        int width = Math.Max(6, Checks.Max(c => c.Name.Length));
        int shapeWidth = Math.Max(5, Checks.Max(c => c.Shape.Length));
        yield return $"{"tensor".PadRight(width)}  {"shape".PadRight(shapeWidth)}  {"max abs",10}  {"rel error",10}  {"tolerance",10}  result";
        foreach (GoldenCheck c in Checks)
            yield return $"{c.Name.PadRight(width)}  {c.Shape.PadRight(shapeWidth)}  {Number(c.MaxAbs),10}  {Number(c.RelativeError),10}  {Number(c.Tolerance),10}  {(c.Pass ? "pass" : "FAIL")}"
                         + (c.Note is null ? "" : $"  ({c.Note})");
        foreach (string note in Notes) yield return "note: " + note;
        yield return Passed
            ? $"golden verify: all {Checks.Count} outputs match (recorded on {Manifest.Device} by engine {Manifest.EngineVersion}, verified on {Device})"
            : $"golden verify: {Failures} of {Checks.Count} outputs FAIL (recorded on {Manifest.Device} by engine {Manifest.EngineVersion}, verified on {Device})";
    }

    private static string Number(double v) => double.IsNaN(v) ? "-" : v == 0 ? "0" : v.ToString("0.00e+00", CultureInfo.InvariantCulture);
}

/// <summary>
/// Recomputes a golden folder's outputs with a model folder on a device and compares each with
/// its recorded value and tolerance (<see cref="GoldenCheck"/>). The inputs must be the recorded
/// ones (their SHA-256 is checked). Different model weights are not an error by themselves (a
/// converted copy may be checked against the original's goldens) but are noted, and will usually
/// make the outputs fail.
/// </summary>
public static class GoldenVerifier
{
    public static GoldenVerification Verify(string modelDir, string goldenDir, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        string dir = Path.GetFullPath(goldenDir);
        GoldenManifest manifest = GoldenManifest.Load(dir);
        string inputs = Path.Combine(dir, GoldenManifest.InputsFile), outputs = Path.Combine(dir, GoldenManifest.OutputsFile);
        foreach (string f in new[] { inputs, outputs })
            if (!File.Exists(f)) throw new FileNotFoundException($"{f}: missing from the golden folder; record it again with `mama golden record`.", f);
        string inputsSha = WeightsChecksum.OfFile(inputs);
        if (inputsSha != manifest.InputsSha256)
            throw new InvalidDataException($"{inputs}: SHA-256 {inputsSha} differs from {manifest.InputsSha256} in the manifest; the golden inputs were changed. Record the goldens again.");

        (NamedForwardResult result, ModelConfigFile config, string sha) = GoldenModel.Run(modelDir, inputs, device, manifest.Step);
        var notes = new List<string>();
        if (sha != manifest.ModelSha256)
            notes.Add($"the model weights (SHA-256 {sha[..12]}...) are not the recorded ones ({manifest.ModelSha256[..Math.Min(12, manifest.ModelSha256.Length)]}...): a different model is being compared.");
        string arch = config.Arch.ToString().ToLowerInvariant();
        if (arch != manifest.Arch) notes.Add($"the model is a {arch} model; the goldens were recorded with a {manifest.Arch} model.");
        foreach (string extra in result.Outputs.Keys.Where(k => manifest.Tensors.All(t => t.Name != k)).Order(StringComparer.Ordinal))
            notes.Add($"output '{extra}' is new (not in the goldens) and was not checked.");

        var checks = new List<GoldenCheck>();
        using (SafetensorsFile file = Safetensors.Open(outputs))
        {
            foreach (GoldenTensor expected in manifest.Tensors)
            {
                if (!file.Contains(expected.Name))
                    throw new InvalidDataException($"{outputs}: has no tensor '{expected.Name}' listed in the manifest; record the goldens again.");
                Tensor golden = file.Load(expected.Name);
                checks.Add(GoldenCheck.Compare(expected, result.Outputs.GetValueOrDefault(expected.Name), golden));
            }
        }
        return new GoldenVerification(manifest, device.Spec, checks, notes);
    }
}
