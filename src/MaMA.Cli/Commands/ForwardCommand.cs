using System.Globalization;
using MaMA.Engine.Nn;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.Golden;
using MaMA.Model.Checkpoints;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama forward --model DIR --in IN.safetensors --out OUT.safetensors [--device D] [--step N]</c>:
/// runs a model folder (dinov2, gpt2 or mama) in evaluation mode on named inputs and writes the
/// named outputs whose inputs are present (<see cref="NamedForward"/>, shared with `mama golden`;
/// see docs/models.md). Bad input is a
/// <see cref="UsageException"/> naming the tensor (exit 2).
/// </summary>
internal static class ForwardCommand
{
    private const string Usage = "usage: mama forward --model DIR --in IN.safetensors --out OUT.safetensors [--device D] [--step N]";

    public static int Run(CommandLine cl)
    {
        if (cl.Positionals.Count != 0) throw new UsageException(Usage);
        string dir = cl.Get("model") ?? throw new UsageException("--model DIR is required (a model folder with config.json and model.safetensors, see `mama import`, or a pre-training run folder: its final model).");
        string input = cl.Get("in") ?? throw new UsageException("--in IN.safetensors is required.");
        string output = cl.Get("out") ?? throw new UsageException("--out OUT.safetensors is required.");
        long? step = null;
        if (cl.Get("step") is { } stepText)
            step = long.TryParse(stepText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long s) && s >= 0
                ? s : throw new UsageException($"--step must be a non-negative integer, got '{stepText}'.");
        Device device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        EvalOptions.RequireFolder(dir, "--model", "a model folder with config.json and model.safetensors, or a pre-training run folder");
        EvalOptions.RequireFile(input, "--in", "the input tensors, safetensors");

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (SafetensorsFile file = Safetensors.Open(input))
            foreach (string n in file.Names) tensors[n] = file.Load(n, device);

        ModelConfigFile config;
        Module model;
        using (ModelCheckpoint checkpoint = ModelDirectory.Load(dir))
        {
            config = checkpoint.Config;
            model = ModelFactory.Load(checkpoint, device);
        }
        model.Eval();

        NamedForwardResult result;
        try
        {
            result = NamedForward.Run(model, config, tensors, step);
        }
        catch (ForwardInputException e)
        {
            throw new UsageException(e.Message);
        }
        IReadOnlyDictionary<string, Tensor> written = result.Outputs;
        foreach (string unused in result.UnusedInputs) Console.Error.WriteLine($"mama forward: warning: input '{unused}' was not used by a {config.Arch.ToString().ToLowerInvariant()} model.");

        Safetensors.Write(output, written, new Dictionary<string, string>
        {
            ["model"] = Path.GetFullPath(dir),
            ["arch"] = config.Arch.ToString().ToLowerInvariant(),
            ["device"] = device.Spec,
        });
        Console.WriteLine($"mama forward: wrote {string.Join(", ", written.Keys.Order(StringComparer.Ordinal))} to {output}");
        return 0;
    }
}
