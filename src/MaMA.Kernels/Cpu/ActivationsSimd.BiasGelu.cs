using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// GELU(y + bias) over rows of C, the CPU twin of <c>Elementwise/BiasGelu.cs</c>: one pass per row,
/// each vector's pre-activation formed in registers and handed to the same SIMD formulas as
/// <see cref="GeluErfForward"/> / <see cref="GeluTanhForward"/> (and their backwards), so the values
/// equal the unfused add-then-GELU bit for bit. The bf16-autocast forward rounds the output (and,
/// when kept, the pre-activation) to bf16 from registers spilled to the stack.
/// </summary>
public static unsafe partial class ActivationsSimd
{
    /// <summary>output [rows, c] = GELU(y + bias) in fp32.</summary>
    public static void BiasGeluForward(int rows, int c, float* y, float* bias, float* output, bool tanh)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        nint py = (nint)y, pb = (nint)bias, po = (nint)output;
        CpuParallel.ForRows(rows, c, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                long at = (long)r * c;
                if (tanh) Row<GeluTanhF>((float*)py + at, (float*)pb, null, (float*)po + at, c);
                else Row<GeluErfF>((float*)py + at, (float*)pb, null, (float*)po + at, c);
            }
        });
    }

    /// <summary>output16 [rows, c] = bf16(GELU(y + bias)); <paramref name="pre16"/> (may be null) gets bf16(y + bias).</summary>
    public static void BiasGeluForwardBf16(int rows, int c, float* y, float* bias, ushort* output16, ushort* pre16, bool tanh)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        nint py = (nint)y, pb = (nint)bias, po = (nint)output16, pk = (nint)pre16;
        CpuParallel.ForRows(rows, c, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                long at = (long)r * c;
                ushort* k = pk == 0 ? null : (ushort*)pk + at;
                if (tanh) RowBf16<GeluTanhF>((float*)py + at, (float*)pb, (ushort*)po + at, k, c);
                else RowBf16<GeluErfF>((float*)py + at, (float*)pb, (ushort*)po + at, k, c);
            }
        });
    }

    /// <summary>dx [rows, c] = dy GELU'(y + bias), the pre-activation recomputed from the saved y.</summary>
    public static void BiasGeluBackward(int rows, int c, float* y, float* bias, float* dy, float* dx, bool tanh)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        nint py = (nint)y, pb = (nint)bias, pg = (nint)dy, pd = (nint)dx;
        CpuParallel.ForRows(rows, c, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                long at = (long)r * c;
                if (tanh) Row<GeluTanhB>((float*)py + at, (float*)pb, (float*)pg + at, (float*)pd + at, c);
                else Row<GeluErfB>((float*)py + at, (float*)pb, (float*)pg + at, (float*)pd + at, c);
            }
        });
    }

    /// <summary>o = TOp(y + b, g) over one row of n (g unused by the forward ops).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row<TOp>(float* y, float* b, float* g, float* o, int n) where TOp : struct, IPointwise
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) i = RowLoop<TOp, V512>(y, b, g, o, n);
        else if (Vector256.IsHardwareAccelerated) i = RowLoop<TOp, V256>(y, b, g, o, n);
        RowLoop<TOp, V1>(y + i, b + i, g == null ? null : g + i, o + i, n - i);
    }

    /// <summary>Whole vectors from the start; returns how many elements it did.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RowLoop<TOp, V>(float* y, float* b, float* g, float* o, int n) where TOp : struct, IPointwise where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        for (; i <= n - w; i += w)
            V.Store(TOp.Apply(V.Load(y + i) + V.Load(b + i), TOp.UsesGradient ? V.Load(g + i) : default), o + i);
        return i;
    }

    /// <summary>o16 = bf16(TOp(y + b)) over one row of n; k (may be null) gets bf16(y + b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBf16<TOp>(float* y, float* b, ushort* o16, ushort* k, int n) where TOp : struct, IPointwise
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) i = RowLoopBf16<TOp, V512>(y, b, o16, k, n);
        else if (Vector256.IsHardwareAccelerated) i = RowLoopBf16<TOp, V256>(y, b, o16, k, n);
        RowLoopBf16<TOp, V1>(y + i, b + i, o16 + i, k == null ? null : k + i, n - i);
    }

    /// <summary>
    /// The bf16 forward, a loop of its own: spilling registers to the stack inside
    /// <see cref="RowLoop{TOp, V}"/> made the JIT compile the GELU there several times slower (a
    /// one-off timing while writing it; `bench ops --only bias_gelu` times the fp32 loop).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int RowLoopBf16<TOp, V>(float* y, float* b, ushort* o16, ushort* k, int n) where TOp : struct, IPointwise where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        float* spill = stackalloc float[16];
        for (; i <= n - w; i += w)
        {
            V pre = V.Load(y + i) + V.Load(b + i);
            if (k != null)
            {
                V.Store(pre, spill);
                for (int j = 0; j < w; j++) k[i + j] = Bf16.FromFloat(spill[j]);
            }
            V.Store(TOp.Apply(pre, default), spill);
            for (int j = 0; j < w; j++) o16[i + j] = Bf16.FromFloat(spill[j]);
        }
        return i;
    }
}
