namespace MaMA.Kernels.TensorCore;

/// <summary>
/// A head size as a type argument of the tensor-core attention kernels: each kernel is compiled once
/// per head size, with D a compile-time constant (as FlashAttention templates its kernels on it). The
/// k loops over D then have constant trip counts, the D = 128 halves of the accumulators (O, dK, dV,
/// dQ columns 64 .. 127) and their branches vanish from the D = 64 kernel, and tile addressing needs
/// no division by a runtime row length. Read as <c>default(TDim).Value</c>.
/// </summary>
public interface IHeadDim
{
    int Value { get; }

    /// <summary>
    /// 16-row query tiles each warp of the attention forward holds (<see cref="TensorCoreAttention"/>):
    /// with two, every K and V fragment read from shared memory feeds twice the mma, which halves the
    /// ldmatrix traffic per mma (the forward's limit with one tile at D = 64). Two need a second O
    /// accumulator (32 registers at D = 64), which D = 128 has no room for.
    /// </summary>
    int RowTiles { get; }
}

/// <summary>D = 64: the MaMA ViT-B/14 (12 heads of 768).</summary>
public readonly struct HeadDim64 : IHeadDim
{
    public int Value => 64;

    public int RowTiles => 2;
}

/// <summary>D = 128: BioMedLM (20 heads of 2560).</summary>
public readonly struct HeadDim128 : IHeadDim
{
    public int Value => 128;

    public int RowTiles => 1;
}
