using TorchSharp;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// Host-side values of one case's inputs and upstream gradient. Drawn from a seeded
/// <see cref="Random"/> (deterministic across runs and machines), so live tests and the golden
/// generator make identical data from the same seed.
/// </summary>
public sealed class OpData
{
    public required IReadOnlyList<float[]?> Floats { get; init; }

    public required IReadOnlyList<long[]?> Indices { get; init; }

    public required OpCase Case { get; init; }

    public static OpData Generate(OpCase c, int seed)
    {
        var rng = new Random(seed);
        var floats = new List<float[]?>();
        var indices = new List<long[]?>();
        foreach (OpInput input in c.Inputs)
        {
            long n = MaMA.Engine.Tensors.Shape.Numel(input.Shape);
            if (input.Kind == InputKind.Index)
            {
                floats.Add(null);
                indices.Add(Enumerable.Range(0, (int)n).Select(_ => (long)rng.Next(input.High)).ToArray());
            }
            else
            {
                floats.Add(Enumerable.Range(0, (int)n).Select(_ => input.Kind == InputKind.Positive ? (float)(0.5 + 1.5 * rng.NextDouble()) : Normal(rng)).ToArray());
                indices.Add(null);
            }
        }
        return new OpData { Case = c, Floats = floats, Indices = indices };
    }

    /// <summary>
    /// Data from given values (a golden file's inputs), one array per input in <see cref="OpCase.Inputs"/>
    /// order: <c>long[]</c> for <see cref="InputKind.Index"/> inputs, <c>float[]</c> otherwise, each
    /// holding exactly as many elements as the input's shape.
    /// </summary>
    public static OpData FromArrays(OpCase c, IReadOnlyList<Array> values)
    {
        if (values.Count != c.Inputs.Length)
            throw new ArgumentException($"{c.Name}: {values.Count} input arrays for {c.Inputs.Length} inputs.", nameof(values));
        var floats = new List<float[]?>();
        var indices = new List<long[]?>();
        for (int i = 0; i < values.Count; i++)
        {
            OpInput input = c.Inputs[i];
            long n = MaMA.Engine.Tensors.Shape.Numel(input.Shape);
            bool isIndex = input.Kind == InputKind.Index;
            if (values[i] is not { } v || (isIndex ? v is not long[] : v is not float[]))
                throw new ArgumentException($"{c.Name}: input '{input.Name}' needs a {(isIndex ? "long[]" : "float[]")}, got {values[i]?.GetType().Name ?? "null"}.", nameof(values));
            if (v.LongLength != n)
                throw new ArgumentException($"{c.Name}: input '{input.Name}' has {v.LongLength} values; shape [{string.Join(", ", input.Shape)}] needs {n}.", nameof(values));
            floats.Add(v as float[]);
            indices.Add(v as long[]);
        }
        return new OpData { Case = c, Floats = floats, Indices = indices };
    }

    /// <summary>Standard normal by Box-Muller.</summary>
    public static float Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    public EngineTensor EngineInput(int i, MaMA.Engine.Devices.Device device)
    {
        OpInput spec = Case.Inputs[i];
        return Indices[i] is { } ids ? EngineTensor.FromArray(ids, spec.Shape, device) : EngineTensor.FromArray(Floats[i]!, spec.Shape, device);
    }

    public TorchTensor TorchInput(int i)
    {
        OpInput spec = Case.Inputs[i];
        long[] shape = spec.Shape.Select(d => (long)d).ToArray();
        return Indices[i] is { } ids ? tensor(ids, shape) : tensor(Floats[i]!, shape);
    }
}
