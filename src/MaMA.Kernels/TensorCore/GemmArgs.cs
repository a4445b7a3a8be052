using System.Runtime.InteropServices;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Shape, strides and epilogue of one <see cref="TensorCoreGemm"/> launch (a kernel parameter, so
/// unmanaged and flat). C[z] (fp32, row stride <see cref="Ldc"/>) = alpha * A[z] B[z] + beta * C[z]
/// + bias[col] + loraScale * U[row, :] . L[col, :] for z &lt; Batch, with
/// A[z](m, k) = a[z * ABatch + m * ARow + k * ACol] and B[z](k, n) = b[z * BBatch + k * BRow + n * BCol]
/// in bf16 bits, U [M, LoraRank] and L [N, LoraRank] fp32 (the LoRA term x A^T B^T with U = x A^T).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct GemmArgs
{
    public int M, N, K, Batch;
    public long ABatch, ARow, ACol;
    public long BBatch, BRow, BCol;
    public long CBatch, Ldc;
    public float Alpha, Beta;
    /// <summary>1 adds bias[col].</summary>
    public int HasBias;
    /// <summary>r of the LoRA epilogue; 0 turns it off.</summary>
    public int LoraRank;
    public float LoraScale;
    /// <summary>1 when k is A's fastest axis (threads walk k on loads); chosen by the launcher.</summary>
    public int AKFast;
    /// <summary>1 when k is B's fastest axis (B = W^T of an [out, in] weight); chosen by the launcher.</summary>
    public int BKFast;
    /// <summary>
    /// Set by <see cref="TensorCoreGemm.Launch"/>, not by callers: 1 when A's (B's) tiles stream in
    /// by cp.async (<see cref="TensorCoreGemm.AsyncCopies"/>), and the device byte address of a[0]
    /// (b[0]) that cp.async reads from.
    /// </summary>
    public int AAsync, BAsync;
    public long AAddress, BAddress;
    /// <summary>
    /// Set by <see cref="TensorCoreGemm.Launch"/>: the pipeline's stages, 2 to 4
    /// (<see cref="TensorCoreGemm.StagesFor(int, int)"/>), tiles in flight plus the one multiplied.
    /// </summary>
    public int Stages;

    /// <summary>Plain C = A B for contiguous batches of row-major A [M, K] and B [K, N].</summary>
    public static GemmArgs RowMajor(int batch, int m, int n, int k) => new()
    {
        M = m, N = n, K = k, Batch = batch,
        ABatch = (long)m * k, ARow = k, ACol = 1,
        BBatch = (long)k * n, BRow = n, BCol = 1,
        CBatch = (long)m * n, Ldc = n,
        Alpha = 1f,
    };
}
