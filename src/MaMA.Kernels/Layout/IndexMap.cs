using System.Runtime.InteropServices;
using MaMA.Kernels.Cpu;

namespace MaMA.Kernels.Layout;

/// <summary>Element offsets of one position in the two operands of an <see cref="IndexMap"/>.</summary>
public struct IndexPair
{
    public long A, B;
}

/// <summary>
/// Where position i of a row-major iteration space lies in two strided operands A and B, as a
/// kernel argument passed by value. Before, the shape and strides went to the device as a buffer:
/// an upload, which synchronised the stream before every broadcast op and every strided copy, and
/// the kernels decomposed i with one 64-bit division and remainder per axis.
/// <para>
/// Axes are coalesced on the host first (<see cref="StridedLayout.Coalesce"/>: size-1 axes dropped,
/// neighbours merged where both operands step through them as one axis), so a bias add is rank 2 and
/// a permuted copy keeps only the axes the permutation splits. Up to <see cref="MaxRank"/> axes are
/// held, innermost first: sizes N0 .. N4 of the inner axes (the outermost size is implied by the
/// launch count), strides A0 .. A4 / B0 .. B4 of the inner axes and AOuter / BOuter of the outermost.
/// Positions are 32-bit (a launch covers fewer than 2^31 elements) and divided with unsigned 32-bit
/// division, one per inner axis; offsets are 64-bit. More axes than <see cref="MaxRank"/> after
/// coalescing are split into several launches by <see cref="Slices"/>.
/// </para>
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct IndexMap
{
    /// <summary>Axes one map holds after coalescing.</summary>
    public const int MaxRank = 6;

    /// <summary>Number of inner axes, 0 .. MaxRank - 1 (rank - 1).</summary>
    public int Inner;
    public uint N0, N1, N2, N3, N4;
    public long A0, A1, A2, A3, A4, AOuter, ABase;
    public long B0, B1, B2, B3, B4, BOuter, BBase;

    /// <summary>Offsets of position <paramref name="i"/> in A and B (bases included).</summary>
    public readonly IndexPair At(int i)
    {
        uint r = (uint)i;
        long a = ABase, b = BBase;
        // Innermost axis first: each step peels one coordinate off r; what is left is the outermost coordinate.
        if (Inner > 0) Step(ref r, N0, A0, B0, ref a, ref b);
        if (Inner > 1) Step(ref r, N1, A1, B1, ref a, ref b);
        if (Inner > 2) Step(ref r, N2, A2, B2, ref a, ref b);
        if (Inner > 3) Step(ref r, N3, A3, B3, ref a, ref b);
        if (Inner > 4) Step(ref r, N4, A4, B4, ref a, ref b);
        IndexPair p;
        p.A = a + r * AOuter;
        p.B = b + r * BOuter;
        return p;
    }

    private static void Step(ref uint r, uint n, long sa, long sb, ref long a, ref long b)
    {
        uint q = r / n;
        uint c = r - q * n;
        a += c * sa;
        b += c * sb;
        r = q;
    }

    /// <summary>One launch of a sliced iteration: positions [First, First + Count) of the whole space.</summary>
    public readonly record struct Slice(IndexMap Map, long First, int Count);

    /// <summary>
    /// The launches that cover <paramref name="shape"/> (row-major) with operand A at
    /// <paramref name="aBase"/> + strides <paramref name="aStrides"/> and B likewise (B may be empty:
    /// a single-operand map). One slice unless more than <see cref="MaxRank"/> axes survive
    /// coalescing; then one per position of the surplus outer axes, each with its own bases.
    /// </summary>
    public static IEnumerable<Slice> Slices(ReadOnlySpan<int> shape, ReadOnlySpan<long> aStrides, long aBase,
        ReadOnlySpan<long> bStrides = default, long bBase = 0)
    {
        int rank0 = Math.Max(shape.Length, 1);
        long[] dims = new long[rank0], sa = new long[rank0], sb = new long[rank0];
        long count = 1;
        for (int d = 0; d < shape.Length; d++)
        {
            dims[d] = shape[d];
            sa[d] = aStrides[d];
            sb[d] = bStrides.IsEmpty ? 0 : bStrides[d];
            count *= shape[d];
        }
        if (shape.Length == 0) dims[0] = 1;
        if (count == 0) return [];
        int rank = StridedLayout.Coalesce(dims, sa, sb);
        return Enumerate(dims, sa, sb, rank, aBase, bBase);
    }

    private static IEnumerable<Slice> Enumerate(long[] dims, long[] sa, long[] sb, int rank, long aBase, long bBase)
    {
        // The last MaxRank axes go into the map; the surplus leading ones are walked here, one launch each.
        int lead = Math.Max(rank - MaxRank, 0);
        long inner = 1;
        for (int d = lead; d < rank; d++) inner *= dims[d];
        int count = checked((int)inner);
        long outer = 1;
        for (int d = 0; d < lead; d++) outer *= dims[d];
        for (long o = 0; o < outer; o++)
        {
            long rest = o, a = aBase, b = bBase;
            for (int d = lead - 1; d >= 0; d--)
            {
                long c = rest % dims[d];
                rest /= dims[d];
                a += c * sa[d];
                b += c * sb[d];
            }
            yield return new Slice(Build(dims, sa, sb, lead, rank, a, b), o * inner, count);
        }
    }

    /// <summary>Axes [lead, rank) of coalesced dims / strides as a map, innermost first.</summary>
    private static IndexMap Build(long[] dims, long[] sa, long[] sb, int lead, int rank, long aBase, long bBase)
    {
        int axes = rank - lead;
        var m = new IndexMap { Inner = axes - 1, ABase = aBase, BBase = bBase, AOuter = sa[lead], BOuter = sb[lead] };
        Span<uint> n = stackalloc uint[MaxRank - 1];
        Span<long> a = stackalloc long[MaxRank - 1], b = stackalloc long[MaxRank - 1];
        for (int j = 0; j < axes - 1; j++)
        {
            int d = rank - 1 - j;
            n[j] = checked((uint)dims[d]);
            a[j] = sa[d];
            b[j] = sb[d];
        }
        (m.N0, m.N1, m.N2, m.N3, m.N4) = (n[0], n[1], n[2], n[3], n[4]);
        (m.A0, m.A1, m.A2, m.A3, m.A4) = (a[0], a[1], a[2], a[3], a[4]);
        (m.B0, m.B1, m.B2, m.B3, m.B4) = (b[0], b[1], b[2], b[3], b[4]);
        return m;
    }
}
