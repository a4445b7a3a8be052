namespace MaMA.Data.Text;

/// <summary>
/// One caption encoded for the text encoder: <see cref="Ids"/> and <see cref="AttentionMask"/> have
/// exactly <see cref="MaxLength"/> entries (right-padded with the pad id, mask 0 there).
/// </summary>
public sealed class EncodedCaption
{
    internal EncodedCaption(int[] ids, int[] attentionMask, int[] sepPositions, int length, int fullLength)
    {
        Ids = ids;
        AttentionMask = attentionMask;
        SepPositions = sepPositions;
        Length = length;
        FullLength = fullLength;
    }

    /// <summary>Token ids, length <see cref="MaxLength"/>.</summary>
    public int[] Ids { get; }

    /// <summary>1 for real tokens (BOS, EOS and SEP included), 0 for padding.</summary>
    public int[] AttentionMask { get; }

    /// <summary>Ascending positions of the SEP tokens that survived truncation (sentence ends).</summary>
    public int[] SepPositions { get; }

    /// <summary>Number of real tokens after truncation (= sum of the attention mask).</summary>
    public int Length { get; }

    /// <summary>Number of tokens before truncation.</summary>
    public int FullLength { get; }

    /// <summary>Whether the caption was cut to fit (the EOS and the tail are then lost, as in the reference).</summary>
    public bool Truncated => FullLength > Ids.Length;

    /// <summary>The fixed sequence length (144 by default).</summary>
    public int MaxLength => Ids.Length;
}

/// <summary>
/// A batch of captions as row-major [B, T] arrays (T = <see cref="MaxLength"/>), ready for
/// <c>Tensor.FromArray(batch.Ids, [batch.BatchSize, batch.MaxLength])</c>.
/// </summary>
public sealed class EncodedCaptionBatch
{
    internal EncodedCaptionBatch(int batchSize, int maxLength, int[] ids, int[] attentionMask, int[][] sepPositions, int[] lengths, int[] fullLengths)
    {
        BatchSize = batchSize;
        MaxLength = maxLength;
        Ids = ids;
        AttentionMask = attentionMask;
        SepPositions = sepPositions;
        Lengths = lengths;
        FullLengths = fullLengths;
    }

    /// <summary>B.</summary>
    public int BatchSize { get; }

    /// <summary>T.</summary>
    public int MaxLength { get; }

    /// <summary>Token ids, [B, T] row-major.</summary>
    public int[] Ids { get; }

    /// <summary>Attention mask, [B, T] row-major.</summary>
    public int[] AttentionMask { get; }

    /// <summary>Per caption, the SEP positions within its row (variable count S per caption).</summary>
    public int[][] SepPositions { get; }

    /// <summary>Per caption, the number of real tokens after truncation.</summary>
    public int[] Lengths { get; }

    /// <summary>Per caption, the number of tokens before truncation.</summary>
    public int[] FullLengths { get; }

    /// <summary>How many captions were truncated.</summary>
    public int TruncatedCount => FullLengths.Count(n => n > MaxLength);

    /// <summary>The ids of row <paramref name="b"/>.</summary>
    public ReadOnlySpan<int> IdsRow(int b) => Ids.AsSpan(CheckRow(b) * MaxLength, MaxLength);

    /// <summary>The attention mask of row <paramref name="b"/>.</summary>
    public ReadOnlySpan<int> MaskRow(int b) => AttentionMask.AsSpan(CheckRow(b) * MaxLength, MaxLength);

    private int CheckRow(int b)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(b);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(b, BatchSize);
        return b;
    }
}
