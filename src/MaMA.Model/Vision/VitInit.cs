using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// DINOv2's initialisation (init_weights / init_weights_vit_timm): truncated normal std 0.02 for
/// linear weights and the position table, normal std 1e-6 for the cls and register tokens, zero
/// biases. Values are drawn on the host from the model's <see cref="Random"/> so a seed gives the
/// same model on every device; inside <see cref="WeightInit.Skip"/> nothing is drawn (zeros).
/// </summary>
internal static class VitInit
{
    /// <summary>Std of the truncated normal for linear weights and pos_embed.</summary>
    public const double WeightStd = 0.02;

    /// <summary>Std of the normal for cls_token and register_tokens.</summary>
    public const double TokenStd = 1e-6;

    /// <summary>
    /// torch.nn.init.trunc_normal_(std, a = -2, b = 2): normal(0, std) redrawn while outside
    /// [-2, 2]. The bounds are absolute, as in PyTorch, so at std 0.02 they never bite.
    /// </summary>
    public static Tensor TruncNormal(Random rng, int[] shape, double std, Device? device)
    {
        if (WeightInit.Skipping) return Tensor.Zeros(shape, DType.Float32, device);
        var data = new float[checked((int)Shape.Numel(shape))];
        FillNormal(rng, data, std, truncate: true);
        return Tensor.FromArray(data, shape, device);
    }

    /// <summary>
    /// A torch.nn.Linear [out, in] with bias, initialised as init_weights_vit_timm: weight trunc
    /// normal std 0.02, bias zero.
    /// </summary>
    public static Linear Linear(int inFeatures, int outFeatures, Random rng, Device? device)
    {
        // Linear's own Kaiming-uniform draw is replaced at once; a constant source makes it free.
        var linear = new Linear(inFeatures, outFeatures, ConstantSource.Instance, bias: true, device: device);
        if (WeightInit.Skipping) return linear;
        using (GradMode.NoGrad())
        {
            linear.Weight.CopyFrom(TruncNormal(rng, [outFeatures, inFeatures], WeightStd, null));
            linear.Bias!.CopyFrom(Tensor.Zeros([outFeatures]));
        }
        return linear;
    }

    /// <summary>torch.nn.init.normal_(std): normal(0, std).</summary>
    public static Tensor Normal(Random rng, int[] shape, double std, Device? device)
    {
        if (WeightInit.Skipping) return Tensor.Zeros(shape, DType.Float32, device);
        var data = new float[checked((int)Shape.Numel(shape))];
        FillNormal(rng, data, std, truncate: false);
        return Tensor.FromArray(data, shape, device);
    }

    /// <summary>U(-bound, bound), PyTorch's default for conv weights and biases (bound 1/sqrt(fan_in)).</summary>
    public static Tensor Uniform(Random rng, int[] shape, double bound, Device? device) => WeightInit.Uniform(rng, shape, bound, device);

    /// <summary>
    /// Normal(0, std) values by Box-Muller (both values of each pair used; 1 - u keeps the
    /// logarithm away from 0); with <paramref name="truncate"/>, values outside [-2, 2] are redrawn.
    /// The array is filled in chunks of 64K values in parallel, chunk c from its own generator
    /// seeded by one draw from <paramref name="rng"/> and c, so the values depend on the seed only,
    /// not on the core count (ViT-B has 86M values to draw).
    /// </summary>
    private static void FillNormal(Random rng, float[] data, double std, bool truncate)
    {
        const int chunk = 1 << 16;
        int seed = rng.Next();
        int chunks = (data.Length + chunk - 1) / chunk;
        Parallel.For(0, chunks, c =>
        {
            var local = new Random(unchecked(seed ^ (c * 0x5BD1E995)));
            int i = c * chunk, end = Math.Min(data.Length, i + chunk);
            while (i < end)
            {
                double radius = std * Math.Sqrt(-2.0 * Math.Log(1.0 - local.NextDouble()));
                (double sin, double cos) = Math.SinCos(2.0 * Math.PI * local.NextDouble());
                double a = radius * cos, b = radius * sin;
                if (!truncate || (a >= -2.0 && a <= 2.0)) data[i++] = (float)a;
                if (i < end && (!truncate || (b >= -2.0 && b <= 2.0))) data[i++] = (float)b;
            }
        });
    }

    /// <summary>A <see cref="Random"/> that always returns the middle of its range (a zero Kaiming-uniform draw).</summary>
    private sealed class ConstantSource : Random
    {
        public static readonly ConstantSource Instance = new();

        public override double NextDouble() => 0.5;

        protected override double Sample() => 0.5;
    }
}
