using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// Hugging Face GPT-2 initialisation (GPT2PreTrainedModel._init_weights): Conv1D and embedding
/// weights N(0, initializer_range = 0.02), biases 0, LayerNorm weight 1 and bias 0, and every
/// <c>c_proj.weight</c> N(0, 0.02 / sqrt(2 n_layer)) (the residual-branch outputs, GPT-2 paper).
/// Draws come from a <see cref="Random"/> (Box-Muller, <see cref="WeightInit"/>), so a seed gives the same model everywhere.
/// </summary>
internal static class Gpt2Init
{
    /// <summary>HF initializer_range.</summary>
    public const double Std = 0.02;

    /// <summary>Std of the c_proj weights: 0.02 / sqrt(2 n_layer).</summary>
    public static double ResidualStd(int nLayer) => Std / Math.Sqrt(2.0 * Math.Max(nLayer, 1));

    /// <summary>N(0, std) values, drawn even inside <see cref="WeightInit.Skip"/> (rows that are kept: <see cref="Gpt2Embedding.Resize"/>).</summary>
    public static float[] Normal(Random rng, long count, double std) => WeightInit.NormalValues(rng, count, std);

    /// <summary>An N(0, std) weight; zeros without drawing inside <see cref="WeightInit.Skip"/>.</summary>
    public static Tensor NormalTensor(Random rng, int[] shape, double std, Device? device) => WeightInit.Normal(rng, shape, std, device);
}
