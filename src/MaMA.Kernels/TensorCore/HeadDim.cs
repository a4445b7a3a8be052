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
}

/// <summary>D = 64: the MaMA ViT-B/14 (12 heads of 768).</summary>
public readonly struct HeadDim64 : IHeadDim
{
    public int Value => 64;
}

/// <summary>D = 128: BioMedLM (20 heads of 2560).</summary>
public readonly struct HeadDim128 : IHeadDim
{
    public int Value => 128;
}
