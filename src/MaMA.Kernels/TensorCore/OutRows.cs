using ILGPU;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Where the tensor-core attention forward writes one head's output rows: fp32 or bf16 (rounded to
/// nearest even, as <see cref="Bf16.FromFloat"/>), row 0 at element <see cref="Head"/> and rows
/// <see cref="Stride"/> elements apart (<see cref="Layout.JoinedHeads"/>: [B, H, T, D], or the heads
/// joined as [B, T, H, D], which saves the permuted copy after the kernel).
/// </summary>
public readonly struct OutRows(ArrayView<float> o, ArrayView<ushort> o16, bool bf16, long head, int stride)
{
    /// <summary>Element of row 0, column 0.</summary>
    public long Head => head;

    /// <summary>Elements between consecutive rows.</summary>
    public int Stride => stride;

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
