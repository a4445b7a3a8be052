using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Nn;

/// <summary>
/// The random draws of module initialisation, and the scope that skips them.
/// <para>
/// Draws come from the module's <see cref="Random"/> on the host, in a fixed order, so a seed gives
/// the same model on every device (a pre-training checkpoint records the frozen weights a seed drew,
/// and a resume draws them again: the order is a contract, pinned by <c>WeightInitTests</c>).
/// </para>
/// <para>
/// <see cref="Skip"/>: a module built only to be filled from a checkpoint (a strict load writes
/// every parameter and persistent buffer) need not draw at all. Inside the scope the draws return
/// zeros and consume nothing from the <see cref="Random"/>, as Hugging Face's <c>no_init_weights</c>
/// and PyTorch's <c>skip_init</c> do. At the paper's size the draws were 112.5 s of a 137.7 s load on
/// a 2-core machine (<c>mama bench load --drawn</c>; docs/checkpoints.md, "Loading without drawing").
/// </para>
/// </summary>
public static class WeightInit
{
    [ThreadStatic]
    private static int t_skip;

    /// <summary>True inside a <see cref="Skip"/> scope on this thread: draws return zeros.</summary>
    public static bool Skipping => t_skip > 0;

    /// <summary>
    /// Until disposed, this thread's module constructors draw nothing (zeros instead, the
    /// <see cref="Random"/> untouched). Only for modules whose every value a strict load then writes;
    /// anything else the constructor derives from the <see cref="Random"/> (LoRA's dropout keys) differs
    /// from a drawn build and must be set afterwards (<c>SeedDropout</c>). Scopes nest.
    /// </summary>
    public static IDisposable Skip()
    {
        t_skip++;
        return new Scope();
    }

    /// <summary>U(-<paramref name="bound"/>, <paramref name="bound"/>), PyTorch's kaiming_uniform(a = sqrt 5) with bound 1/sqrt(fan_in): one draw per value.</summary>
    public static Tensor Uniform(Random rng, int[] shape, double bound, Device? device) =>
        Skipping ? Tensor.Zeros(shape, DType.Float32, device) : Tensor.FromArray(UniformValues(rng, Shape.Numel(shape), bound), shape, device);

    /// <summary>N(0, <paramref name="std"/>) by Box-Muller, one value per pair of draws (its cosine), as GPT-2's and LoRA's initialisation draw.</summary>
    public static Tensor Normal(Random rng, int[] shape, double std, Device? device) =>
        Skipping ? Tensor.Zeros(shape, DType.Float32, device) : Tensor.FromArray(NormalValues(rng, Shape.Numel(shape), std), shape, device);

    /// <summary>The values of <see cref="Uniform"/>, drawn whether or not a scope skips (for values that are kept, such as resized embedding rows).</summary>
    public static float[] UniformValues(Random rng, long count, double bound)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var data = new float[checked((int)count)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)((rng.NextDouble() * 2.0 - 1.0) * bound);
        return data;
    }

    /// <summary>The values of <see cref="Normal"/>, drawn whether or not a scope skips; 1 - u keeps the logarithm away from 0.</summary>
    public static float[] NormalValues(Random rng, long count, double std)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var data = new float[checked((int)count)];
        for (int i = 0; i < data.Length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            data[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return data;
    }

    private sealed class Scope : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            t_skip--;
        }
    }
}
