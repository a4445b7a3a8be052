using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Cpu;

/// <summary>
/// GELU(y + bias) over rows of C, the CPU twin of <c>Elementwise/BiasGelu.cs</c>: each row's
/// pre-activation is formed in the output row (L1-resident at C = 3072), optionally rounded to bf16
/// from there, and the GELU applied in place with the same SIMD formulas as <see cref="GeluErfForward"/>
/// and <see cref="GeluTanhForward"/>, so the values equal the unfused add-then-GELU bit for bit.
/// </summary>
public static unsafe partial class ActivationsSimd
{
    /// <summary>output [rows, c] = GELU(y + bias); <paramref name="pre16"/> (may be null) gets y + bias rounded to bf16.</summary>
    public static void BiasGeluForward(int rows, int c, float* y, float* bias, float* output, ushort* pre16, bool tanh)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(c);
        nint py = (nint)y, pb = (nint)bias, po = (nint)output, pk = (nint)pre16;
        CpuParallel.ForRows(rows, c, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                long at = (long)r * c;
                float* o = (float*)po + at;
                AddRow((float*)py + at, (float*)pb, o, c);
                if (pk != 0)
                {
                    ushort* k = (ushort*)pk + at;
                    for (int j = 0; j < c; j++) k[j] = Bf16.FromFloat(o[j]);
                }
                if (tanh) Run<GeluTanhF>(o, null, o, c);
                else Run<GeluErfF>(o, null, o, c);
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
                float* d = (float*)pd + at;
                AddRow((float*)py + at, (float*)pb, d, c);
                if (tanh) Run<GeluTanhB>(d, (float*)pg + at, d, c);
                else Run<GeluErfB>(d, (float*)pg + at, d, c);
            }
        });
    }

    /// <summary>o = a + b over n elements (plain IEEE adds, as the broadcast add computes them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddRow(float* a, float* b, float* o, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated) i = AddLoop<V512>(a, b, o, n);
        else if (Vector256.IsHardwareAccelerated) i = AddLoop<V256>(a, b, o, n);
        for (; i < n; i++) o[i] = a[i] + b[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int AddLoop<V>(float* a, float* b, float* o, int n) where V : unmanaged, ISimd<V>
    {
        int w = V.Count, i = 0;
        for (; i <= n - w; i += w) V.Store(V.Load(a + i) + V.Load(b + i), o + i);
        return i;
    }
}
