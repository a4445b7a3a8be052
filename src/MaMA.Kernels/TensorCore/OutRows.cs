using ILGPU;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Where the tensor-core attention forward writes one head's output rows: fp32 or bf16 (rounded to
/// nearest even, as <see cref="Bf16.FromFloat"/>), row 0 at element <see cref="Head"/> and rows
/// <see cref="Stride"/> elements apart. [B, H, T, D] has a head's rows D apart; the heads joined as
/// [B, T, H, D] (what the output projection reads as [B, T, H D]) have them H D apart, with head h's
/// D columns at h D. Writing there saves the permuted copy after the kernel.
/// </summary>
public readonly struct OutRows(ArrayView<float> o, ArrayView<ushort> o16, bool bf16, long head, int stride)
{
    /// <summary>Element of row 0, column 0.</summary>
    public long Head => head;

    /// <summary>Elements between consecutive rows.</summary>
    public int Stride => stride;

    /// <summary>
    /// Row 0 of head bh = b H + h in the joined [B, T, H, D] layout: (b T H + h) D. The caller passes
    /// b = bh / H, which it has already divided for the key mask (one runtime division per kernel).
    /// </summary>
    public static long JoinedHead(int bh, int b, int heads, int t, int d) => ((long)b * t * heads + (bh - b * heads)) * d;

    /// <summary>Columns <paramref name="col"/> and col + 1 of <paramref name="row"/>.</summary>
    public void StorePair(int row, int col, float x0, float x1)
    {
        long i = head + (long)row * stride + col;
        if (bf16)
        {
            o16[i] = Bf16.FromFloat(x0);
            o16[i + 1] = Bf16.FromFloat(x1);
        }
        else
        {
            o[i] = x0;
            o[i + 1] = x1;
        }
    }
}
