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
