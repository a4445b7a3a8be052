using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Linear;

/// <summary>
/// The fp32 strided batched GEMM of <see cref="MatMulArgs"/> for GPUs without cuBLAS (OpenCL
/// devices, CUDA where the library is missing), explicitly grouped and portable (no inline PTX):
/// <code>
/// grid (ceil(N / 64), ceil(M / 64), Batch), group 256 threads = 16 x 16
/// shared: A tile [16 k][64 rows], B tile [16 k][64 cols], fp32 (8 KB, static)
/// thread (ty, tx): rows ty + 16 i, columns tx + 16 j (i, j &lt; 4), 16 accumulators
/// per k step: 4 A values (two addresses per warp: broadcasts) and 4 B values (16 consecutive
///   words per half warp: no bank conflicts), 16 FMAs
/// tile loads: consecutive threads along the operand's unit-stride axis (coalesced), zero past M, N, K
/// </code>
/// <see cref="MatMul"/>'s one thread per output reads K values of A and K of B for one FMA each;
/// here a group shares each loaded value among 64 outputs. Each output still sums its K products in
/// k order in one chain, as the per-output kernel does.
/// </summary>
public static class TiledMatMul
{
    public const int Tile = 64, TileK = 16, Side = 16, Threads = Side * Side, Micro = Tile / Side;

    private static readonly Dictionary<Accelerator, Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulArgs>>
        s_kernels = new();

    /// <summary>
    /// Where the kernel runs for data on <paramref name="accelerator"/>: itself when its groups take
    /// 256 threads; for the CPU simulator (16 threads a group) its 256-thread companion
    /// (<see cref="WarpSimulator"/>); null when neither (the caller keeps <see cref="MatMul"/>).
    /// </summary>
    public static Accelerator? Target(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (accelerator.MaxNumThreadsPerGroup >= Threads) return accelerator;
        return accelerator is CPUAccelerator ? WarpSimulator.For(accelerator) : null;
    }

    /// <summary>Whether a launch of this shape fits the grid (the batch is the grid's z, at most 65,535 groups).</summary>
    public static bool Fits(MatMulArgs p) => p.Batch <= 65_535 && (p.M + Tile - 1) / Tile <= 65_535;

    /// <summary>
    /// C[z] (contiguous [Batch, M, N]) = Alpha A[z] B[z] + Beta C[z] on <paramref name="stream"/>'s
    /// accelerator, or on the simulator's companion (synchronously). Callers check <see cref="Target"/> and <see cref="Fits"/>.
    /// </summary>
    public static void Launch(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, MatMulArgs p)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (p.Batch <= 0 || p.M <= 0 || p.N <= 0) return;
        Accelerator target = Target(stream.Accelerator)
            ?? throw new NotSupportedException($"tiled matmul: {stream.Accelerator.Name} runs at most {stream.Accelerator.MaxNumThreadsPerGroup} threads a group, the kernel {Threads}.");
        if (!Fits(p)) throw new ArgumentOutOfRangeException(nameof(p), $"tiled matmul: {p.Batch} batches or {p.M} rows exceed the grid.");
        var config = new KernelConfig(new Index3D((p.N + Tile - 1) / Tile, (p.M + Tile - 1) / Tile, p.Batch), new Index3D(Threads, 1, 1));
        if (ReferenceEquals(target, stream.Accelerator))
        {
            Kernel(target)(stream, config, a, b, c, p);
            return;
        }
        stream.Synchronize();
        Kernel(target)(target.DefaultStream, config, a, b, c, p);
        target.DefaultStream.Synchronize();
    }

    private static Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulArgs> Kernel(Accelerator accelerator)
    {
        lock (s_kernels)
        {
            if (!s_kernels.TryGetValue(accelerator, out var kernel))
                s_kernels[accelerator] = kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulArgs>(TiledKernel);
            return kernel;
        }
    }

    /// <summary>The kernel; see the class summary for the schedule.</summary>
    public static void TiledKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, MatMulArgs p)
    {
        ArrayView<float> aTile = SharedMemory.Allocate<float>(TileK * Tile);
        ArrayView<float> bTile = SharedMemory.Allocate<float>(TileK * Tile);
        int tid = Group.IdxX, tx = tid % Side, ty = tid / Side;
        int row0 = Grid.IdxY * Tile, col0 = Grid.IdxX * Tile, z = Grid.IdxZ;
        long aBase = z * p.ABatch, bBase = z * p.BBatch;
        // Load order per operand: along its unit-stride axis when it has one, so neighbouring threads read neighbouring words.
        bool aAlongK = p.ACol == 1 || p.ARow != 1, bAlongN = p.BCol == 1 || p.BRow != 1;

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int k0 = 0; k0 < p.K; k0 += TileK)
        {
            for (int l = 0; l < TileK * Tile / Threads; l++)
            {
                int e = tid + l * Threads;
                // A(row, k) into aTile[k][row]; B(k, col) into bTile[k][col].
                int ar = aAlongK ? e / TileK : e % Tile, ak = aAlongK ? e % TileK : e / Tile;
                int gr = row0 + ar, gak = k0 + ak;
                aTile[ak * Tile + ar] = gr < p.M && gak < p.K ? a[aBase + gr * p.ARow + gak * p.ACol] : 0f;
                int bc = bAlongN ? e % Tile : e / TileK, bk = bAlongN ? e / Tile : e % TileK;
                int gc = col0 + bc, gbk = k0 + bk;
                bTile[bk * Tile + bc] = gc < p.N && gbk < p.K ? b[bBase + gbk * p.BRow + gc * p.BCol] : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < TileK; kk++)
            {
                int at = kk * Tile + ty, bt = kk * Tile + tx;
                float a0 = aTile[at], a1 = aTile[at + Side], a2 = aTile[at + 2 * Side], a3 = aTile[at + 3 * Side];
                float b0 = bTile[bt], b1 = bTile[bt + Side], b2 = bTile[bt + 2 * Side], b3 = bTile[bt + 3 * Side];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }
        long cBase = (long)z * p.M * p.N;
        StoreRow(c, p, cBase, row0 + ty, col0 + tx, c00, c01, c02, c03);
        StoreRow(c, p, cBase, row0 + ty + Side, col0 + tx, c10, c11, c12, c13);
        StoreRow(c, p, cBase, row0 + ty + 2 * Side, col0 + tx, c20, c21, c22, c23);
        StoreRow(c, p, cBase, row0 + ty + 3 * Side, col0 + tx, c30, c31, c32, c33);
    }

    /// <summary>Row <paramref name="row"/>'s four outputs at columns col, col + 16, + 32, + 48; those past M or N are dropped.</summary>
    private static void StoreRow(ArrayView<float> c, MatMulArgs p, long cBase, int row, int col, float v0, float v1, float v2, float v3)
    {
        if (row >= p.M) return;
        long at = cBase + (long)row * p.N;
        Store(c, p, at, col, v0);
        Store(c, p, at, col + Side, v1);
        Store(c, p, at, col + 2 * Side, v2);
        Store(c, p, at, col + 3 * Side, v3);
    }

    private static void Store(ArrayView<float> c, MatMulArgs p, long rowAt, int col, float v)
    {
        if (col >= p.N) return;
        long i = rowAt + col;
        c[i] = p.Alpha * v + (p.Beta == 0f ? 0f : p.Beta * c[i]);
    }
}
