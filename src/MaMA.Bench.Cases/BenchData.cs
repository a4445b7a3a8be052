using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// Host values of one case's inputs, drawn in input order from a seeded <see cref="Random"/> with
/// Box-Muller normals: the same values on every machine and the same draw as the parity catalog's
/// OpData for all-normal inputs, so `--vs torch` feeds libtorch exactly what the engine gets.
/// </summary>
public sealed class BenchData
{
    private BenchData(BenchCase c, float[][] values)
    {
        Case = c;
        Values = values;
    }

    public BenchCase Case { get; }

    /// <summary>One fp32 array per input, numel of its shape.</summary>
    public IReadOnlyList<float[]> Values { get; }

    public static BenchData Generate(BenchCase c, int seed)
    {
        var rng = new Random(seed);
        float[][] values = c.Inputs.Select(input => Enumerable.Range(0, (int)Shape.Numel(input.Shape)).Select(_ => Normal(rng)).ToArray()).ToArray();
        return new BenchData(c, values);
    }

    /// <summary>Standard normal by Box-Muller.</summary>
    public static float Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    /// <summary>Input <paramref name="i"/> on <paramref name="device"/> in its storage dtype (a leaf: the cast is not recorded).</summary>
    public Tensor EngineInput(int i, Device device)
    {
        BenchInput spec = Case.Inputs[i];
        Tensor fp32 = Tensor.FromArray(Values[i], spec.Shape, device);
        if (spec.DType == DType.Float32) return fp32;
        using (GradMode.NoGrad())
        {
            Tensor stored = fp32.To(spec.DType);
            fp32.Dispose();
            return stored;
        }
    }
}
