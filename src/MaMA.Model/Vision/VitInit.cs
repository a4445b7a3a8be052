using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// DINOv2's initialisation (init_weights / init_weights_vit_timm): truncated normal std 0.02 for
/// linear weights and the position table, normal std 1e-6 for the cls and register tokens, zero
/// biases. Values are drawn on the host from the model's <see cref="Random"/> so a seed gives the
/// same model on every device.
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
        var data = new float[checked((int)Shape.Numel(shape))];
        for (int i = 0; i < data.Length; i++)
        {
            double v;
            do v = std * StandardNormal(rng); while (v < -2.0 || v > 2.0);
            data[i] = (float)v;
        }
        return Tensor.FromArray(data, shape, device);
    }

    /// <summary>
    /// A torch.nn.Linear [out, in] with bias, initialised as init_weights_vit_timm: weight trunc
    /// normal std 0.02, bias zero.
    /// </summary>
    public static Linear Linear(int inFeatures, int outFeatures, Random rng, Device? device)
    {
        var linear = new Linear(inFeatures, outFeatures, rng, bias: true, device: device);
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
        var data = new float[checked((int)Shape.Numel(shape))];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(std * StandardNormal(rng));
        return Tensor.FromArray(data, shape, device);
    }

    /// <summary>U(-bound, bound), PyTorch's default for conv weights and biases (bound 1/sqrt(fan_in)).</summary>
    public static Tensor Uniform(Random rng, int[] shape, double bound, Device? device)
    {
        var data = new float[checked((int)Shape.Numel(shape))];
        for (int i = 0; i < data.Length; i++) data[i] = (float)((rng.NextDouble() * 2.0 - 1.0) * bound);
        return Tensor.FromArray(data, shape, device);
    }

    /// <summary>Box-Muller with 1 - u so the logarithm never sees 0.</summary>
    private static double StandardNormal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
