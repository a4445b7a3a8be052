using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MaMA.Kernels.Linear;

/// <summary>
/// Fast CPU fp32 GEMM: C = alpha * A @ B + beta * C with element strides on A and B (so transposed
/// operands cost nothing) and a row-major C (row stride ldc).
/// Blocking: B is packed per (KC x NC) block into 16-wide column panels, then rows of C are
/// computed 4 at a time by a 4x16 register tile (8 Vector256 accumulators, FMA), in parallel over
/// row groups. Ragged edges go through a zero-padded panel and a masked store.
/// </summary>
public static unsafe class Sgemm
{
    private const int MR = 4;
    private const int NR = 16;
    private const int KC = 256;
    private const int NC = 1024;

    /// <summary>
    /// a(i, k) = a[i * aRow + k * aCol], b(k, j) = b[k * bRow + j * bCol], c(i, j) = c[i * ldc + j].
    /// </summary>
    public static void Run(int m, int n, int k, float* a, long aRow, long aCol, float* b, long bRow, long bCol,
        float* c, long ldc, float alpha = 1f, float beta = 0f)
    {
        if (m <= 0 || n <= 0) return;
        if (beta != 1f)
            for (int i = 0; i < m; i++)
            {
                var row = new Span<float>(c + i * ldc, n);
                if (beta == 0f) row.Clear();
                else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
            }
        if (k <= 0 || alpha == 0f) return;

        int panelsPerBlock = (NC + NR - 1) / NR;
        float* packed = (float*)NativeMemory.AlignedAlloc((nuint)(panelsPerBlock * KC * NR * sizeof(float)), 64);
        try
        {
            for (int j0 = 0; j0 < n; j0 += NC)
            {
                int nc = Math.Min(NC, n - j0);
                int panels = (nc + NR - 1) / NR;
                for (int k0 = 0; k0 < k; k0 += KC)
                {
                    int kc = Math.Min(KC, k - k0);
                    PackB(b, bRow, bCol, k0, kc, j0, nc, packed);
                    int groups = (m + MR - 1) / MR;
                    nint pa = (nint)a, pc = (nint)c, pb = (nint)packed;
                    int kk0 = k0, jj0 = j0;
                    void Group(int g)
                    {
                        int i0 = g * MR;
                        int mr = Math.Min(MR, m - i0);
                        for (int p = 0; p < panels; p++)
                        {
                            int cols = Math.Min(NR, nc - p * NR);
                            MicroKernel((float*)pa, aRow, aCol, i0, mr, kk0, kc, (float*)pb + (long)p * kc * NR,
                                (float*)pc + i0 * ldc + jj0 + p * NR, ldc, cols, alpha);
                        }
                    }
                    if ((long)m * nc * kc < 1 << 16)
                        for (int g = 0; g < groups; g++) Group(g);
                    else
                        Parallel.For(0, groups, Group);
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(packed);
        }
    }

    /// <summary>Packs b[k0:k0+kc, j0:j0+nc] as panels of [kc][16], zero-padding the last panel.</summary>
    private static void PackB(float* b, long bRow, long bCol, int k0, int kc, int j0, int nc, float* packed)
    {
        int panels = (nc + NR - 1) / NR;
        for (int p = 0; p < panels; p++)
        {
            float* dst = packed + (long)p * kc * NR;
            int cols = Math.Min(NR, nc - p * NR);
            for (int kk = 0; kk < kc; kk++)
            {
                float* src = b + (k0 + kk) * bRow + (long)(j0 + p * NR) * bCol;
                float* d = dst + kk * NR;
                if (bCol == 1 && cols == NR)
                {
                    Unsafe.CopyBlockUnaligned(d, src, NR * sizeof(float));
                }
                else
                {
                    int j = 0;
                    for (; j < cols; j++) d[j] = src[j * bCol];
                    for (; j < NR; j++) d[j] = 0f;
                }
            }
        }
    }

    /// <summary>C[i0:i0+mr, 0:cols] += alpha * A[i0:i0+mr, k0:k0+kc] @ panel (kc x 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MicroKernel(float* a, long aRow, long aCol, int i0, int mr, int k0, int kc, float* panel,
        float* c, long ldc, int cols, float alpha)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        float* a0 = a + i0 * aRow + k0 * aCol;
        float* a1 = mr > 1 ? a0 + aRow : a0;
        float* a2 = mr > 2 ? a0 + 2 * aRow : a0;
        float* a3 = mr > 3 ? a0 + 3 * aRow : a0;
        for (int kk = 0; kk < kc; kk++)
        {
            Vector256<float> b0 = Vector256.Load(panel + kk * NR);
            Vector256<float> b1 = Vector256.Load(panel + kk * NR + 8);
            long off = kk * aCol;
            Vector256<float> v0 = Vector256.Create(a0[off]);
            c00 = Vector256.FusedMultiplyAdd(v0, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(v0, b1, c01);
            Vector256<float> v1 = Vector256.Create(a1[off]);
            c10 = Vector256.FusedMultiplyAdd(v1, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(v1, b1, c11);
            Vector256<float> v2 = Vector256.Create(a2[off]);
            c20 = Vector256.FusedMultiplyAdd(v2, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(v2, b1, c21);
            Vector256<float> v3 = Vector256.Create(a3[off]);
            c30 = Vector256.FusedMultiplyAdd(v3, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(v3, b1, c31);
        }
        Store(c, cols, alpha, c00, c01);
        if (mr > 1) Store(c + ldc, cols, alpha, c10, c11);
        if (mr > 2) Store(c + 2 * ldc, cols, alpha, c20, c21);
        if (mr > 3) Store(c + 3 * ldc, cols, alpha, c30, c31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, int cols, float alpha, Vector256<float> lo, Vector256<float> hi)
    {
        Vector256<float> s = Vector256.Create(alpha);
        if (cols == NR)
        {
            Vector256.Store(Vector256.FusedMultiplyAdd(lo, s, Vector256.Load(c)), c);
            Vector256.Store(Vector256.FusedMultiplyAdd(hi, s, Vector256.Load(c + 8)), c + 8);
            return;
        }
        float* tmp = stackalloc float[NR];
        Vector256.Store(lo * s, tmp);
        Vector256.Store(hi * s, tmp + 8);
        for (int j = 0; j < cols; j++) c[j] += tmp[j];
    }
}
