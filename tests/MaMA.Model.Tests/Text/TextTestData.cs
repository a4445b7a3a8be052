using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using EOps = MaMA.Engine.Ops;
using MaMA.Model.Text;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Tests.Text;

/// <summary>Small GPT-2 configs, padded token batches and error measures shared by the text tests.</summary>
internal static class TextTestData
{
    /// <summary>3 layers (so the 1/(layer + 1) scaling shows), H 3, D 8, small vocabulary; LoRA r 4, alpha 8.</summary>
    public static Gpt2Config Small(bool lora = true) => new()
    {
        VocabSize = 301, NPositions = 40, NEmbd = 24, NLayer = 3, NHead = 3, NInner = 48,
        Lora = lora ? new LoraConfig { Rank = 4, Alpha = 8f, Dropout = 0.1f } : null,
    };

    /// <summary>Row lengths of the padded batch: one full row, two right-padded.</summary>
    public static readonly int[] Lengths = [17, 11, 5];

    public const int T = 17;

    /// <summary>ids [B, T] int64 (padding positions hold <paramref name="padId"/>) and mask [B, T] int64.</summary>
    public static (Tensor Ids, Tensor Mask) Batch(int vocab, int seed, int padId, Device? device = null)
    {
        var rng = new Random(seed);
        int b = Lengths.Length;
        var ids = new long[b * T];
        var mask = new long[b * T];
        for (int row = 0; row < b; row++)
            for (int t = 0; t < T; t++)
            {
                bool real = t < Lengths[row];
                ids[row * T + t] = real ? rng.Next(vocab) : padId;
                mask[row * T + t] = real ? 1 : 0;
            }
        return (Tensor.FromArray(ids, [b, T], device), Tensor.FromArray(mask, [b, T], device));
    }

    /// <summary>Every LoRA B set to N(0, 0.05) so the adapters change the output (a fresh B is zero).</summary>
    public static void MakeLoraNonZero(IGpt2TextModel model, int seed)
    {
        var rng = new Random(seed);
        foreach ((_, LoraLinear layer) in model.LoraLayers())
        {
            var values = new float[layer.LoraB.Numel];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(0.05 * Gaussian(rng));
            layer.LoraB.CopyFrom(Tensor.FromArray(values, layer.LoraB.ShapeArray));
        }
    }

    public static float[] Gaussians(int count, int seed, double std = 1.0)
    {
        var rng = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(std * Gaussian(rng));
        return values;
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - rng.NextDouble())) * Math.Cos(2.0 * Math.PI * rng.NextDouble());

    /// <summary>||a - b|| / ||b|| (the engine's tolerance measure); 0 when both are zero.</summary>
    public static double RelErr(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths differ: {a.Length} vs {b.Length}");
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            num += d * d;
            den += (double)b[i] * b[i];
        }
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }

    /// <summary>sum(hidden * G) with a fixed G, so every output element gets its own gradient.</summary>
    public static Tensor Objective(Tensor hidden, float[] g)
    {
        Tensor weights = Tensor.FromArray(g, hidden.ShapeArray, hidden.Device);
        return EOps.Sum(EOps.Mul(hidden, weights));
    }

    /// <summary>Gradients of the parameters that have one, by name.</summary>
    public static Dictionary<string, float[]> Grads(Module model) =>
        model.NamedParameters().Where(np => np.Parameter.Grad is not null).ToDictionary(np => np.Name, np => np.Parameter.Grad!.ToFloatArray());

    public static IDisposable NoGrad() => GradMode.NoGrad();
}
