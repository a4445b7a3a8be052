using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;

namespace MaMA.MpiCheck;

/// <summary>Seeded pixels (two views) and reports with 3-5 SEP tokens for every step, global rows.</summary>
internal sealed class GlobalBatch(MaMAConfig config, int n, float[][] pixels, float[][] pixels2, long[][] ids, long[][] mask)
{
    /// <summary>Tokens per report.</summary>
    public const int T = 20;

    public static GlobalBatch Make(MaMAConfig config, int n, int steps)
    {
        int size = config.Vision.ImageSize, pixelCount = n * 3 * size * size;
        var p1 = new float[steps][];
        var p2 = new float[steps][];
        var ids = new long[steps][];
        var mask = new long[steps][];
        for (int s = 0; s < steps; s++)
        {
            p1[s] = Compare.Uniform(pixelCount, 1000 + s);
            p2[s] = Compare.Uniform(pixelCount, 2000 + s);
            var rng = new Random(3000 + s);
            ids[s] = new long[n * T];
            mask[s] = new long[n * T];
            for (int m = 0; m < n; m++)
            {
                int length = T - 2 * (m % 4);
                for (int i = 0; i < T; i++)
                {
                    bool real = i < length;
                    ids[s][m * T + i] = real ? rng.Next(0, 50000) : config.PadTokenId;
                    mask[s][m * T + i] = real ? 1 : 0;
                }
                int seps = 3 + m % 3;
                for (int k = 0; k < seps; k++) ids[s][m * T + (k + 1) * (length - 1) / seps] = config.SepTokenId;
            }
        }
        return new GlobalBatch(config, n, p1, p2, ids, mask);
    }

    /// <summary>Rows [start, start + count) of step <paramref name="s"/>'s global batch.</summary>
    public MaMABatch Slice(int s, int start, int count)
    {
        int size = config.Vision.ImageSize, image = 3 * size * size;
        Tensor Pixels(float[] all) => Tensor.FromArray(all.AsSpan(start * image, count * image).ToArray(), [count, 3, size, size]);
        Tensor Tokens(long[] all) => Tensor.FromArray(all.AsSpan(start * T, count * T).ToArray(), [count, T]);
        _ = n;
        return new MaMABatch(Pixels(pixels[s]), Tokens(ids[s]), Tokens(mask[s]), Pixels(pixels2[s]));
    }
}
