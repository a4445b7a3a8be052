namespace MaMA.Kernels.TensorCore;

/// <summary>
/// The order in which one group of <see cref="TensorCoreAttentionBackward"/> visits its 64-query
/// tiles: the full ones first, then the masked ones. A tile is full when no pair of it is hidden:
/// every query below T, when causal every query after all the group's 64 keys, and every key below T
/// and not hidden by the padding mask (<see cref="AttentionTiles.FirstHidden"/>). The backward
/// compiles one query loop for each kind (the masking code only in the second), and the two loops
/// must run one after the other for the Q/dO prefetch to follow them, so the order is full tiles
/// [Lo, Hi) then the rest of [First, End): [First, Lo) (the causal diagonal) and [Hi, End) (the
/// partial last tile). Every tile is still visited once; only the order of dK's and dV's fp32 sums
/// over query tiles changes.
/// <code>
/// causal, T = 200, key tile 1:   tiles 1 .. 3, full 2, masked 1 and 3  -> order 2, 1, 3
/// plain,  T = 256:               tiles 0 .. 3, all full                 -> order 0, 1, 2, 3
/// a key the padding mask hides:  all masked                             -> order First .. End - 1
/// </code>
/// </summary>
public readonly struct QueryTiles
{
    /// <summary>The first tile with a visible pair (the key tile's own tile when causal, else 0), and one past the last.</summary>
    public readonly int First, End;

    /// <summary>The full tiles, [Lo, Hi); Lo = Hi = End when none.</summary>
    public readonly int Lo, Hi;

    private QueryTiles(int first, int end, int lo, int hi)
    {
        First = first;
        End = end;
        Lo = lo;
        Hi = hi;
    }

    /// <summary>How many tiles the group visits.</summary>
    public int Count => End - First;

    /// <summary>How many of them are full: the first <see cref="Full"/> of the order.</summary>
    public int Full => Hi - Lo;

    /// <summary>
    /// The order for key tile <paramref name="keyTile"/> (keys 64 keyTile .. + 63) of a sequence of
    /// <paramref name="t"/>; <paramref name="keysFull"/>: all 64 keys are below T and the padding mask, if any, hides none of them.
    /// </summary>
    public static QueryTiles For(int keyTile, int t, bool causal, bool keysFull)
    {
        int first = causal ? keyTile : 0;
        int end = (t + TensorCoreAttentionBackward.BlockQ - 1) / TensorCoreAttentionBackward.BlockQ;
        if (first > end) first = end;
        // Causal: the diagonal tile holds pairs with query < key; every later tile is past all 64 keys.
        int lo = causal ? first + 1 : first;
        int hi = keysFull ? t / TensorCoreAttentionBackward.BlockQ : 0;
        if (hi <= lo) lo = hi = end;
        return new QueryTiles(first, end, lo, hi);
    }

    /// <summary>The <paramref name="j"/>-th tile of the order, 0 &lt;= j &lt; <see cref="Count"/>.</summary>
    public int At(int j)
    {
        if (j < Hi - Lo) return Lo + j;
        int m = j - (Hi - Lo), head = Lo - First;
        return m < head ? First + m : Hi + (m - head);
    }
}
