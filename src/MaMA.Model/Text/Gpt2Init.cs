using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// Hugging Face GPT-2 initialisation (GPT2PreTrainedModel._init_weights): Conv1D and embedding
/// weights N(0, initializer_range = 0.02), biases 0, LayerNorm weight 1 and bias 0, and every
/// <c>c_proj.weight</c> N(0, 0.02 / sqrt(2 n_layer)) (the residual-branch outputs, GPT-2 paper).
/// Draws come from a <see cref="Random"/> (Box-Muller), so a seed gives the same model everywhere.
/// </summary>
internal static class Gpt2Init
{
    /// <summary>HF initializer_range.</summary>
    public const double Std = 0.02;

    /// <summary>Std of the c_proj weights: 0.02 / sqrt(2 n_layer).</summary>
    public static double ResidualStd(int nLayer) => Std / Math.Sqrt(2.0 * Math.Max(nLayer, 1));

    public static float[] Normal(Random rng, long count, double std)
    {
        var data = new float[checked((int)count)];
        for (int i = 0; i < data.Length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            data[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return data;
    }

    public static Tensor NormalTensor(Random rng, int[] shape, double std, Device? device) =>
        Tensor.FromArray(Normal(rng, Shape.Numel(shape), std), shape, device);
}
