using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// The CPU twin of <c>Elementwise/ScaledResidual.cs</c>: z = residual + (branch + bias) gamma over
/// rows of C, one register pass per vector, and the terms of gamma's gradient. Plain IEEE adds and
/// multiplies in the unfused order (no FMA), so the values equal add, multiply, add bit for bit.
/// </summary>
public static unsafe class ScaledResidualSimd
{
    /// <summary>
    /// z [rows, c] = residual + (branch + bias) gamma, or residual + (branch + bias) when
    /// <paramref name="gamma"/> is null; <paramref name="pre16"/> (may be null) gets bf16(branch + bias).
    /// </summary>
    public static void Forward(int rows, int c, float* residual, float* branch, float* bias, float* gamma, float* z, ushort* pre16)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        nint pr = (nint)residual, py = (nint)branch, pb = (nint)bias, pg = (nint)gamma, pz = (nint)z, pk = (nint)pre16;
        CpuParallel.ForRows(rows, c, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                long at = (long)r * c;
                float* rr = (float*)pr + at, yy = (float*)py + at, zz = (float*)pz + at;
                int i = 0;
                if (pg == 0)
                {
                    if (Vector512.IsHardwareAccelerated) i = ForwardLoop<V512>(rr, yy, (float*)pb, zz, c);
                    else if (Vector256.IsHardwareAccelerated) i = ForwardLoop<V256>(rr, yy, (float*)pb, zz, c);
                    for (; i < c; i++) zz[i] = rr[i] + (yy[i] + ((float*)pb)[i]);
                }
                else
                {
                    if (Vector512.IsHardwareAccelerated) i = ForwardLoop<V512>(rr, yy, (float*)pb, (float*)pg, zz, c);
                    else if (Vector256.IsHardwareAccelerated) i = ForwardLoop<V256>(rr, yy, (float*)pb, (float*)pg, zz, c);
                    for (; i < c; i++) zz[i] = rr[i] + (yy[i] + ((float*)pb)[i]) * ((float*)pg)[i];
                }
                if (pk != 0)
                {
                    // A second, cache-hot sweep over the row: rounding inside the vector loop would need a stack spill there.
                    ushort* k = (ushort*)pk + at;
                    for (int j = 0; j < c; j++) k[j] = Bf16.FromFloat(yy[j] + ((float*)pb)[j]);
                }
            }
        });
    }

    /// <summary>product [rows, c] = dz (branch + bias): the terms of gamma's gradient.</summary>
    public static void GammaTerms(int rows, int c, float* dz, float* branch, float* bias, float* product)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        nint pd = (nint)dz, py = (nint)branch, pb = (nint)bias, pp = (nint)product;
        CpuParallel.ForRows(rows, c, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                long at = (long)r * c;
                float* dd = (float*)pd + at, yy = (float*)py + at, oo = (float*)pp + at;
                int i = 0;
                if (Vector512.IsHardwareAccelerated) i = TermsLoop<V512>(dd, yy, (float*)pb, oo, c);
                else if (Vector256.IsHardwareAccelerated) i = TermsLoop<V256>(dd, yy, (float*)pb, oo, c);
                for (; i < c; i++) oo[i] = dd[i] * (yy[i] + ((float*)pb)[i]);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ForwardLoop<V>(float* r, float* y, float* b, float* g, float* z, int n) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        for (; i <= n - w; i += w) V.Store(V.Load(r + i) + (V.Load(y + i) + V.Load(b + i)) * V.Load(g + i), z + i);
        return i;
    }

    /// <summary>Without a scale: z = r + (y + b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ForwardLoop<V>(float* r, float* y, float* b, float* z, int n) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        for (; i <= n - w; i += w) V.Store(V.Load(r + i) + (V.Load(y + i) + V.Load(b + i)), z + i);
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TermsLoop<V>(float* d, float* y, float* b, float* o, int n) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        for (; i <= n - w; i += w) V.Store(V.Load(d + i) * (V.Load(y + i) + V.Load(b + i)), o + i);
        return i;
    }
}
