using System.Globalization;
using MaMA.Evaluation.Golden;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama golden record --model DIR --in INPUTS.safetensors --out GOLDEN_DIR [--device D] [--step N] [--tolerance T]</c>
/// stores a model folder's named outputs (those of <c>mama forward</c>) for fixed inputs with a
/// manifest (<see cref="GoldenRecorder"/>); <c>mama golden verify --model DIR --golden GOLDEN_DIR
/// [--device D]</c> recomputes them and prints a per-tensor table (<see cref="GoldenVerifier"/>).
/// Exit codes: 0 all outputs within tolerance, 1 any failure (or an I/O or model error), 2 bad usage.
/// </summary>
internal static class GoldenCommand
{
    private const string Usage = "usage: mama golden record --model DIR --in INPUTS.safetensors --out GOLDEN_DIR [--device D] [--step N] [--tolerance T]\n"
                                 + "       mama golden verify --model DIR --golden GOLDEN_DIR [--device D]";

    public static int Run(CommandLine cl)
    {
        if (cl.Positionals.Count != 1) throw new UsageException($"expected one action, record or verify.\n{Usage}");
        return cl.Positionals[0] switch
        {
            "record" => Record(cl),
            "verify" => Verify(cl),
            var other => throw new UsageException($"unknown action '{other}'; use record or verify.\n{Usage}"),
        };
    }

    private static int Record(CommandLine cl)
    {
        string? model = cl.Get("model");
        string? input = cl.Get("in");
        string? output = cl.Get("out");
        long? step = null;
        if (cl.Get("step") is { } stepText)
            step = long.TryParse(stepText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long s) && s >= 0
                ? s : throw new UsageException($"--step must be a non-negative integer, got '{stepText}'.");
        double tolerance = GoldenRecorder.DefaultTolerance;
        if (cl.Get("tolerance") is { } tolText && !(double.TryParse(tolText, NumberStyles.Float, CultureInfo.InvariantCulture, out tolerance) && tolerance >= 0 && double.IsFinite(tolerance)))
            throw new UsageException($"--tolerance must be a number >= 0 (relative error), got '{tolText}'.");
        Device device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        if (model is null || input is null || output is null) throw new UsageException($"--model, --in and --out are required.\n{Usage}");
        EvalOptions.RequireFolder(model, "--model", "a model folder with config.json and model.safetensors, or a pre-training run folder");
        if (!File.Exists(input)) throw new UsageException($"--in {input}: no such file.");

        GoldenManifest manifest;
        try
        {
            manifest = GoldenRecorder.Record(model, input, output, device, step, tolerance);
        }
        catch (ForwardInputException e)
        {
            throw new UsageException(e.Message);
        }
        Console.WriteLine($"recorded {manifest.Tensors.Count} outputs on {manifest.Device} (engine {manifest.EngineVersion}{(manifest.GitCommit is { } c ? $", commit {c[..12]}" : "")}):");
        foreach (GoldenTensor t in manifest.Tensors)
            Console.WriteLine($"  {t.Name,-20} [{string.Join(", ", t.Shape)}] {t.Dtype} tolerance {t.Tolerance.ToString("G3", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"wrote {Path.GetFullPath(output)} ({GoldenManifest.FileName}, {GoldenManifest.InputsFile}, {GoldenManifest.OutputsFile})");
        return 0;
    }

    private static int Verify(CommandLine cl)
    {
        string? model = cl.Get("model");
        string? golden = cl.Get("golden");
        Device device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        if (model is null || golden is null) throw new UsageException($"--model and --golden are required.\n{Usage}");
        EvalOptions.RequireFolder(model, "--model", "a model folder with config.json and model.safetensors, or a pre-training run folder");
        EvalOptions.RequireFolder(golden, "--golden", "a folder written by `mama golden record`");
        if (!File.Exists(Path.Combine(golden, GoldenManifest.FileName)))
            throw new UsageException($"--golden {golden}: no {GoldenManifest.FileName}; it is not a folder written by `mama golden record`.");

        GoldenVerification result;
        try
        {
            result = GoldenVerifier.Verify(model, golden, device);
        }
        catch (ForwardInputException e)
        {
            throw new UsageException(e.Message);
        }
        foreach (string line in result.Lines()) Console.WriteLine(line);
        return result.Passed ? 0 : 1;
    }
}
