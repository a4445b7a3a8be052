using MaMA.Engine.Nn;
using MaMA.Model.MaMA;
using MaMA.Model.Tests.Heads;
using MaMA.Model.Text;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Model.Tests.MaMA;

/// <summary>A tiny MaMA model with non-trivial weights and a seeded micro-batch for parity tests.</summary>
internal static class MaMATestData
{
    /// <summary>MaMAConfig.Tiny with LoRA dropout off (the reference cannot draw the engine's Philox masks).</summary>
    public static MaMAConfig Config(long lateLossStep = 0) => MaMAConfig.Tiny with
    {
        Text = Gpt2Config.Tiny.WithoutDropout(),
        LateLossStep = lateLossStep,
    };

    /// <summary>
    /// A model whose every parameter matters: LoRA B non-zero (it starts at zero), BatchNorm gains
    /// and shifts away from 1 and 0, LayerScale gammas of order 0.3 (so the ViT blocks shape the output).
    /// </summary>
    public static MaMAModel Model(MaMAConfig config, int seed = 1)
    {
        var model = new MaMAModel(config, new Random(seed));
        int s = 1000;
        foreach ((string name, Parameter p) in model.NamedParameters())
        {
            if (name.Contains(".lora_B.", StringComparison.Ordinal))
                p.CopyFrom(Compare.Uniform(p.ShapeArray, s++, -0.2f, 0.2f));
            else if (name.EndsWith(".gamma", StringComparison.Ordinal))
                p.CopyFrom(Compare.Uniform(p.ShapeArray, s++, 0.2f, 0.5f));
        }
        HeadParityTests.RandomiseAffine(model.ImageEncoder.LocalEmbed);
        HeadParityTests.RandomiseAffine(model.TextEncoder.LocalEmbed);
        HeadParityTests.RandomiseAffine(model.SimClrProj);
        return model;
    }

    /// <summary>
    /// N image-report pairs: pixels in [-1, 1] (two views), token ids with 3-5 SEP tokens per report
    /// and trailing padding (mask 0, pad id) of different lengths.
    /// </summary>
    public static MaMABatch Batch(MaMAConfig config, int n = 4, int t = 20, int seed = 5)
    {
        int size = config.Vision.ImageSize;
        EngineTensor pixels = Compare.Uniform([n, 3, size, size], seed);
        EngineTensor pixels2 = Compare.Uniform([n, 3, size, size], seed + 1);
        var rng = new Random(seed + 2);
        var ids = new long[n * t];
        var mask = new long[n * t];
        for (int m = 0; m < n; m++)
        {
            int length = t - 2 * m;                   // padding grows with m
            for (int i = 0; i < t; i++)
            {
                bool real = i < length;
                ids[m * t + i] = real ? rng.Next(0, 50000) : config.PadTokenId;
                mask[m * t + i] = real ? 1 : 0;
            }
            int seps = 3 + m % 3;   // >= 3: with 2 rows a BatchNorm output is +-1 whatever the input (zero gradient, only rounding noise)
            for (int k = 0; k < seps; k++) ids[m * t + (k + 1) * (length - 1) / seps] = config.SepTokenId;
        }
        return new MaMABatch(pixels, EngineTensor.FromArray(ids, [n, t]), EngineTensor.FromArray(mask, [n, t]), pixels2);
    }
}
