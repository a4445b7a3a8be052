using System.Runtime.InteropServices;

namespace MaMA.Kernels.Random;

/// <summary>
/// A dropout keep-mask as accelerator kernels take it (a plain, unmanaged kernel parameter): element
/// e of the masked tensor, flattened, has the index g = <see cref="Base"/> + e in the whole batch and
/// is kept when the uniform of word g % 4 of Philox-4x32-10 block g / 4 (counter (g / 4, 0,
/// offset.lo, offset.hi), key (seed.lo, seed.hi)) is below 1 - <see cref="P"/>; a kept element is
/// scaled by <see cref="Scale"/> = 1 / (1 - p). This is the mask of the <see cref="Dropout"/> kernel
/// and of the CPU's <see cref="Cpu.PhiloxDropout"/>, bit for bit, so a fused kernel that drops inside
/// (LoRA's input, attention's probabilities) equals the unfused op followed by <c>Ops.Dropout</c>.
/// The default (<see cref="Off"/>, p = 0) keeps everything at factor 1 and draws nothing.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DropoutMask
{
    /// <summary>Drop probability; 0 is no dropout.</summary>
    public float P;

    /// <summary>1 / (1 - p), the factor of a kept element.</summary>
    public float Scale;

    /// <summary>The stream's Philox key.</summary>
    public ulong Seed;

    /// <summary>The stream's position (one per forward).</summary>
    public ulong Offset;

    /// <summary>Index of the masked tensor's first element in the whole batch (0 in one process).</summary>
    public long Base;

    /// <summary>No dropout: every factor is 1.</summary>
    public static DropoutMask Off => default;

    /// <summary>The mask of drop probability <paramref name="p"/> in [0, 1) at (seed, offset), for a tensor whose first element is element <paramref name="elementBase"/> of the batch.</summary>
    public static DropoutMask Create(float p, ulong seed, ulong offset, long elementBase = 0)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1).");
        ArgumentOutOfRangeException.ThrowIfNegative(elementBase);
        return new DropoutMask { P = p, Scale = 1f / (1f - p), Seed = seed, Offset = offset, Base = elementBase };
    }

    /// <summary>True when elements are dropped (p &gt; 0).</summary>
    public readonly bool Active => P > 0f;

    /// <summary>
    /// The factor of element <paramref name="e"/> (its batch index is Base + e): <see cref="Scale"/>
    /// when kept, 0 when dropped, 1 when the mask is off. Scalar code for kernel bodies and the host alike.
    /// </summary>
    public readonly float Factor(long e) => P <= 0f ? 1f : Keeps(e) ? Scale : 0f;

    /// <summary>Whether element <paramref name="e"/> is kept (always, when the mask is off).</summary>
    public readonly bool Keeps(long e)
    {
        if (P <= 0f) return true;
        long g = Base + e;
        return Kept(Block(g >> 2).Lane((int)(g & 3)));
    }

    /// <summary>
    /// Whether elements <paramref name="e"/> (bit 0) and e + 1 (bit 1) are kept, from one Philox block
    /// unless the pair straddles two (batch index % 4 = 3): the tensor-core kernels' fragments hold
    /// such pairs. A returned value, not out parameters: those would be address-taken locals, which the
    /// PTX promotion (<c>PtxLocalSlots</c>) cannot keep in registers.
    /// </summary>
    public readonly int KeepsPair(long e)
    {
        if (P <= 0f) return 3;
        long g = Base + e;
        int word = (int)(g & 3);
        UInt4 block = Block(g >> 2);
        bool first = Kept(block.Lane(word));
        bool second = Kept(word < 3 ? block.Lane(word + 1) : Block((g >> 2) + 1).X0);
        return (first ? 1 : 0) | (second ? 2 : 0);
    }

    /// <summary>
    /// Whether the four elements of the Philox block holding element <paramref name="e"/> are kept:
    /// bit w for word w, i.e. for batch index 4 ((Base + e) / 4) + w (all kept when the mask is off).
    /// Kernels whose lanes hold parts of one block draw it once and share the bits by shuffles.
    /// </summary>
    public readonly int KeepsBlock(long e)
    {
        if (P <= 0f) return 15;
        UInt4 block = Block((Base + e) >> 2);
        return (Kept(block.X0) ? 1 : 0) | (Kept(block.X1) ? 2 : 0) | (Kept(block.X2) ? 4 : 0) | (Kept(block.X3) ? 8 : 0);
    }

    /// <summary>True when every row of length <paramref name="rowLength"/> starts a Philox block (Base and the length multiples of 4).</summary>
    public readonly bool RowsAligned(int rowLength) => (rowLength & 3) == 0 && (Base & 3) == 0;

    private readonly UInt4 Block(long counter) =>
        Philox.Block((uint)counter, 0u, (uint)Offset, (uint)(Offset >> 32), (uint)Seed, (uint)(Seed >> 32));

    private readonly bool Kept(uint word) => Philox.ToUniform(word) < 1f - P;
}
