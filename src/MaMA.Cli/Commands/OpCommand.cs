using System.Reflection;
using MaMA.Cli.Help;
using MaMA.Cli.ReferenceOps;
using MaMA.Engine;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama op NAME --in IN.safetensors --out OUT.safetensors [--device D] [--backward]</c>: runs one
/// op on named tensors and writes its outputs. With --backward the input file also holds
/// <c>grad_&lt;output&gt;</c> for the outputs to differentiate (L = sum over them of sum(out * grad_out)),
/// and the output file gets <c>grad_&lt;input&gt;</c> for every differentiable input.
/// </summary>
internal static class OpCommand
{
    public static IReadOnlyDictionary<string, IReferenceOp> Ops { get; } = typeof(OpCommand).Assembly.GetTypes()
        .Where(t => !t.IsAbstract && !t.IsInterface && typeof(IReferenceOp).IsAssignableFrom(t))
        .Select(t => (IReferenceOp)Activator.CreateInstance(t)!)
        .ToDictionary(o => o.Name, StringComparer.Ordinal);

    /// <summary>The op names in order, as the help texts and errors list them.</summary>
    public static string Names => string.Join(", ", Ops.Keys.Order());

    public static int Run(CommandLine cl)
    {
        if (cl.Positionals.Count != 1)
            throw new UsageException($"{HelpTexts.Usage("op")}; NAME is one of {Names}.");
        string name = cl.Positionals[0];
        if (!Ops.TryGetValue(name, out IReferenceOp? op))
            throw new UsageException($"unknown op '{name}'; known: {Names}.");
        string input = cl.Get("in") ?? throw new UsageException("--in IN.safetensors is required.");
        string output = cl.Get("out") ?? throw new UsageException("--out OUT.safetensors is required.");
        bool backward = cl.Flag("backward");
        Device device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        EvalOptions.RequireFile(input, "--in", "the op's named input tensors, safetensors");

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (SafetensorsFile file = Safetensors.Open(input))
            foreach (string n in file.Names) tensors[n] = file.Load(n, device);
        if (backward)
            foreach (string n in op.DifferentiableInputs)
                if (tensors.TryGetValue(n, out Tensor? t)) tensors[n] = Leaf(t);

        var args = new OpArguments(name, tensors);
        IReadOnlyDictionary<string, Tensor> outputs;
        try
        {
            outputs = op.Run(args);
        }
        catch (ArgumentException e)
        {
            // The reference ops check names, dtypes and shapes; what they leave (an empty normalised
            // axis, say) the engine op rejects by the parameter's name. Either way it is bad input.
            throw new UsageException($"{name}: {e.Message}");
        }
        foreach (string unused in args.Unused()) Console.Error.WriteLine($"mama op: {name}: warning: input '{unused}' was not used.");

        var written = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string n, Tensor t) in outputs) written[n] = t;
        if (backward)
        {
            Tensor? objective = null;
            foreach ((string n, Tensor t) in outputs)
            {
                if (!tensors.TryGetValue("grad_" + n, out Tensor? g)) continue;
                if (!Shape.SameShape(g.Shape, t.Shape))
                    throw new UsageException($"{name}: 'grad_{n}' has shape {Shape.Format(g.Shape)} but output '{n}' has shape {Shape.Format(t.Shape)}.");
                if (!t.RequiresGrad) continue;
                Tensor term = Engine.Ops.Sum(Engine.Ops.Mul(t, g));
                objective = objective is null ? term : Engine.Ops.Add(objective, term);
            }
            if (objective is null)
                throw new UsageException($"{name}: --backward needs at least one of {string.Join(", ", outputs.Keys.Select(k => "grad_" + k))} in the input file.");
            objective.Backward();
            foreach (string n in op.DifferentiableInputs)
                if (tensors.TryGetValue(n, out Tensor? t))
                    written["grad_" + n] = t.Grad ?? Tensor.Zeros(t.Shape, DType.Float32, device);
        }
        Safetensors.Write(output, written, new Dictionary<string, string> { ["op"] = name, ["device"] = device.Spec, ["engine"] = EngineVersion() });
        Console.WriteLine($"mama op {name}: wrote {string.Join(", ", written.Keys.Order())} to {output}");
        return 0;
    }

    /// <summary>The file's tensor as a gradient-collecting leaf, in its own dtype (a bf16 input gets a bf16 gradient).</summary>
    private static Tensor Leaf(Tensor t)
    {
        Tensor leaf = t.Detach();
        leaf.RequiresGrad = true;
        return leaf;
    }

    private static string EngineVersion() => typeof(Ops).Assembly.GetName().Version?.ToString() ?? "0";
}
