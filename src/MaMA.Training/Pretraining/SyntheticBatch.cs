namespace MaMA.Training.Pretraining;

/// <summary>
/// A micro-batch of random inputs for timing a training step without data: two views [N, 3, S, S]
/// of pixels uniform in [-1, 1], token ids [N, T] drawn below the vocabulary (special tokens
/// avoided) with a SEP every 24 tokens and at the end, so every report has sentences for the local
/// loss, and a full attention mask. Deterministic in <c>seed</c>.
/// </summary>
public sealed record SyntheticBatch(float[] View1, float[] View2, long[] Ids, long[] Mask)
{
    private const int SentenceLength = 24;

    public static SyntheticBatch Create(MaMA.Model.MaMA.MaMAConfig config, int n, int tokens, int seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        int side = config.Vision.ImageSize;
        var rng = new Random(seed);
        float[] Pixels()
        {
            var values = new float[(long)n * 3 * side * side];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
            return values;
        }
        float[] view1 = Pixels(), view2 = Pixels();
        int vocab = Math.Min(config.Text.VocabSize, Math.Min(config.SepTokenId, config.PadTokenId));
        var ids = new long[n * tokens];
        for (int r = 0; r < n; r++)
            for (int t = 0; t < tokens; t++)
                ids[r * tokens + t] = (t + 1) % SentenceLength == 0 || t == tokens - 1 ? config.SepTokenId : rng.Next(vocab);
        var mask = new long[n * tokens];
        Array.Fill(mask, 1L);
        return new SyntheticBatch(view1, view2, ids, mask);
    }
}
