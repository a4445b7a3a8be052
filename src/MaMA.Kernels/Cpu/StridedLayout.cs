using System.Runtime.CompilerServices;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// Strided iteration for the fast CPU backend: a view is walked as rows (all axes but the last,
/// with an odometer over their indices) and an innermost axis handled as one block, so there is no
/// per-element div/mod. Axes are first coalesced: size-1 axes dropped and neighbours merged where
/// every operand steps through them as through one axis.
/// </summary>
public static class StridedLayout
{
    /// <summary>
    /// Coalesces <paramref name="shape"/> and every operand's strides in place (all in elements);
    /// returns the new rank, at least 1 (a single element is shape [1]).
    /// </summary>
    public static int Coalesce(long[] shape, params long[][] strides)
    {
        int rank = 0;
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            shape[rank] = shape[d];
            foreach (long[] s in strides) s[rank] = s[d];
            rank++;
        }
        if (rank == 0)
        {
            shape[0] = 1;
            foreach (long[] s in strides) s[0] = 0;
            return 1;
        }
        int r = 0;
        for (int d = 1; d < rank; d++)
        {
            bool merge = true;
            foreach (long[] s in strides)
                if (s[r] != s[d] * shape[d]) merge = false;
            if (merge)
            {
                shape[r] *= shape[d];
                foreach (long[] s in strides) s[r] = s[d];
            }
            else
            {
                r++;
                shape[r] = shape[d];
                foreach (long[] s in strides) s[r] = s[d];
            }
        }
        return r + 1;
    }
}

/// <summary>
/// Walks the rows of a coalesced layout (axes 0..rank-2) from a given row, keeping up to three
/// operands' element offsets; <see cref="Next"/> is an odometer step, not a division.
/// </summary>
public struct RowCursor
{
    private readonly long[] _shape;
    private readonly long[] _s0, _s1, _s2;
    private readonly long[] _index;
    private readonly int _outer;

    /// <summary>Offsets of the current row's first element in operands 0, 1, 2.</summary>
    public long Offset0, Offset1, Offset2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RowCursor(long[] shape, int rank, long row, long[] s0, long[]? s1 = null, long[]? s2 = null)
    {
        _shape = shape;
        _s0 = s0;
        _s1 = s1 ?? new long[rank];
        _s2 = s2 ?? new long[rank];
        _outer = rank - 1;
        _index = new long[Math.Max(_outer, 1)];
        Offset0 = Offset1 = Offset2 = 0;
        for (int d = _outer - 1; d >= 0; d--)
        {
            long i = row % shape[d];
            row /= shape[d];
            _index[d] = i;
            Offset0 += i * _s0[d];
            Offset1 += i * _s1[d];
            Offset2 += i * _s2[d];
        }
    }

    /// <summary>Advances to the next row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Next()
    {
        for (int d = _outer - 1; d >= 0; d--)
        {
            Offset0 += _s0[d];
            Offset1 += _s1[d];
            Offset2 += _s2[d];
            if (++_index[d] < _shape[d]) return;
            Offset0 -= _shape[d] * _s0[d];
            Offset1 -= _shape[d] * _s1[d];
            Offset2 -= _shape[d] * _s2[d];
            _index[d] = 0;
        }
    }
}
