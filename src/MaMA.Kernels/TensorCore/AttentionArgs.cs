using System.Runtime.InteropServices;
using MaMA.Kernels.Random;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Shape and options of one <see cref="TensorCoreAttention"/> launch (a kernel parameter: flat and
/// unmanaged). q, k, v are contiguous bf16 [B, H, T, D] with D = <see cref="HeadDim"/> (64 or 128);
/// key j is visible to query i when j &lt; T, keep[b, j] != 0 (if <see cref="HasMask"/>) and j &lt;= i
/// (if <see cref="Causal"/>). The addresses are the device byte addresses of q[0], k[0], v[0] for
/// cp.async (CUDA; 0 on the simulator, which copies through the views).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct AttentionArgs
{
    public int T, Heads;
    /// <summary>D, for the record: the kernel takes its head size from its <see cref="IHeadDim"/> instantiation, as a constant.</summary>
    public int HeadDim;
    public int Causal, HasMask;
    /// <summary>The full multiplier on q . k (ViT 1/sqrt(D); GPT-2 1/sqrt(D)/(layer + 1)).</summary>
    public float Scale;
    /// <summary>1: the output is [B, T, H, D] (heads joined), 0: [B, H, T, D].</summary>
    public int JoinHeads;
    /// <summary>1: the output is bf16 (the kernel's o16 view), 0: fp32 (o).</summary>
    public int OutBf16;
    public long QAddress, KAddress, VAddress;
    /// <summary>Dropout on the probabilities (element ((b H + h) T + i) T + j of [B, H, T, T]); <see cref="DropoutMask.Off"/>: none.</summary>
    public DropoutMask Dropout;
}
