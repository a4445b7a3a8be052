using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Data.Loading;

/// <summary>
/// One batch of B image-report pairs, as host arrays in row-major order.
/// Shapes: views [B, 3, S, S] (S the crop size, normalised grey replicated to 3 channels),
/// token ids and attention mask [B, T] (T = MaxTokens), sentence (SEP) positions per sample,
/// BI-RADS label 0-6 and density label 0-3 (-1 where the image has no density class).
/// </summary>
public sealed class MammoBatch
{
    internal MammoBatch(int count, int imageSize, int tokens)
    {
        Count = count;
        ImageSize = imageSize;
        Tokens = tokens;
        View1 = new float[count * 3 * imageSize * imageSize];
        View2 = new float[count * 3 * imageSize * imageSize];
        TokenIds = new int[count * tokens];
        AttentionMask = new int[count * tokens];
        SentencePositions = new int[count][];
        Birads = new int[count];
        Density = new int[count];
        RecordIndices = new int[count];
        PartnerIndices = new int[count];
        Reports = new string[count];
    }

    public int Count { get; }

    public int ImageSize { get; }

    public int Tokens { get; }

    public float[] View1 { get; }

    public float[] View2 { get; }

    public int[] TokenIds { get; }

    public int[] AttentionMask { get; }

    /// <summary>Positions of the SEP tokens (sentence ends) in each caption, ascending.</summary>
    public int[][] SentencePositions { get; }

    public int[] Birads { get; }

    public int[] Density { get; }

    /// <summary>Index (in the loader's record list) of each sample's first image.</summary>
    public int[] RecordIndices { get; }

    /// <summary>Index of the image used for view 2 (equal to RecordIndices when it is a second augmentation).</summary>
    public int[] PartnerIndices { get; }

    /// <summary>The (masked) report text each caption was encoded from.</summary>
    public string[] Reports { get; }

    /// <summary>View 1 as a [B, 3, S, S] fp32 tensor on <paramref name="device"/>.</summary>
    public Tensor View1Tensor(Device? device = null) => Tensor.FromArray(View1, [Count, 3, ImageSize, ImageSize], device);

    /// <summary>View 2 as a [B, 3, S, S] fp32 tensor on <paramref name="device"/>.</summary>
    public Tensor View2Tensor(Device? device = null) => Tensor.FromArray(View2, [Count, 3, ImageSize, ImageSize], device);

    /// <summary>Token ids as a [B, T] int64 tensor (embedding lookups take int64 ids).</summary>
    public Tensor TokenIdsTensor(Device? device = null) => Tensor.FromArray(TokenIds.Select(i => (long)i).ToArray(), [Count, Tokens], device);

    /// <summary>Attention mask as a [B, T] fp32 tensor of 0/1.</summary>
    public Tensor AttentionMaskTensor(Device? device = null) => Tensor.FromArray(AttentionMask.Select(m => (float)m).ToArray(), [Count, Tokens], device);
}
