namespace MaMA.Kernels.Layout;

/// <summary>
/// Where one head's [T, D] rows lie in an attention output (or its gradient): in [B, H, T, D] the
/// head bh = b H + h starts at bh T D with rows D apart; with the heads joined, [B, T, H, D] (what
/// the output projection reads as [B, T, H D]), it starts at (b T H + h) D with rows H D apart. Used
/// by the CPU attention kernel and, inside kernels, by the tensor-core forward and backward.
/// </summary>
public static class JoinedHeads
{
    /// <summary>
    /// Element of row 0 of head <paramref name="bh"/>; <paramref name="b"/> = bh / H, which the
    /// caller has divided already (the kernels need it for the key mask too: one runtime division).
    /// </summary>
    public static long Head(bool joined, int bh, int b, int heads, int t, int d) =>
        joined ? ((long)b * t * heads + (bh - b * heads)) * d : (long)bh * t * d;

    /// <summary>Elements between consecutive rows of one head.</summary>
    public static int RowStride(bool joined, int heads, int d) => joined ? heads * d : d;
}
