using ILGPU;
using MaMA.Kernels.Layout;
using MaMA.Kernels.TensorCore;

namespace MaMA.Kernels.Conversion;

/// <summary>
/// Conversions between fp32 compute and 16-bit storage formats (kept as raw bits: ILGPU has no
/// bfloat16). fp32 -> bf16/fp16 round to nearest even, as PyTorch does; NaN stays NaN.
/// </summary>
public static partial class Casts
{
    [Kernel]
    private static void BFloat16ToFloatKernel(int i, [Extent("count")] ArrayView<ushort> x, [Extent("count")] ArrayView<float> y)
    {
        y[i] = Interop.IntAsFloat((uint)x[i] << 16);
    }

    [Kernel]
    private static void FloatToBFloat16Kernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<ushort> y)
    {
        y[i] = Bf16.FromFloat(x[i]);
    }

    /// <summary>
    /// The same from a strided fp32 view (x[map.At(i).A], <see cref="IndexMap"/>) into contiguous y,
    /// in one pass: autocast rounds views such as attention's q, k, v (slices of a permuted qkv)
    /// this way, without an fp32 contiguous copy first.
    /// </summary>
    [Kernel]
    private static void StridedFloatToBFloat16Kernel(int i, ArrayView<float> x, [Extent("count")] ArrayView<ushort> y, IndexMap map)
    {
        y[i] = Bf16.FromFloat(x[map.At(i).A]);
    }

    [Kernel]
    private static void HalfToFloatKernel(int i, [Extent("count")] ArrayView<ushort> x, [Extent("count")] ArrayView<float> y)
    {
        uint h = x[i];
        uint sign = (h & 0x8000u) << 16;
        uint exponent = (h >> 10) & 0x1Fu;
        uint mantissa = h & 0x3FFu;
        float magnitude;
        if (exponent == 0u)
            magnitude = (int)mantissa * 5.9604644775390625e-8f; // subnormal: m * 2^-24 (through int: no float64 on the device)
        else if (exponent == 31u)
            magnitude = mantissa == 0u ? float.PositiveInfinity : float.NaN;
        else
            magnitude = Interop.IntAsFloat(((exponent + 112u) << 23) | (mantissa << 13));
        y[i] = Interop.IntAsFloat(Interop.FloatAsInt(magnitude) | sign);
    }

    [Kernel]
    private static void FloatToHalfKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<ushort> y)
    {
        uint bits = Interop.FloatAsInt(x[i]);
        uint sign = (bits >> 16) & 0x8000u;
        uint abs = bits & 0x7FFFFFFFu;
        uint result;
        if (abs > 0x7F800000u)
        {
            result = 0x7E00u; // NaN
        }
        else if (abs >= 0x477FF000u)
        {
            result = 0x7C00u; // overflow (rounds to >= 65520) -> inf
        }
        else if (abs < 0x38800000u)
        {
            // Subnormal or zero: scale by 2^24 and round to nearest even in integer arithmetic.
            float scaled = Interop.IntAsFloat(abs) * 16777216f;
            uint q = (uint)scaled;
            float frac = scaled - (int)q; // q < 2^24: through int, no float64 on the device
            if (frac > 0.5f || (frac == 0.5f && (q & 1u) == 1u)) q++;
            result = q;
        }
        else
        {
            uint rounded = abs + 0xFFFu + ((abs >> 13) & 1u);
            result = (rounded - 0x38000000u) >> 13;
        }
        y[i] = (ushort)(result | sign);
    }

    [Kernel]
    private static void Int32ToFloatKernel(int i, [Extent("count")] ArrayView<int> x, [Extent("count")] ArrayView<float> y)
    {
        y[i] = x[i];
    }

    [Kernel]
    private static void Int64ToFloatKernel(int i, [Extent("count")] ArrayView<long> x, [Extent("count")] ArrayView<float> y)
    {
        y[i] = x[i];
    }

    [Kernel]
    private static void FloatToInt32Kernel(int i, [Extent("count")] ArrayView<float> x, [Extent("count")] ArrayView<int> y)
    {
        y[i] = (int)x[i];
    }

    [Kernel]
    private static void Int64ToInt32Kernel(int i, [Extent("count")] ArrayView<long> x, [Extent("count")] ArrayView<int> y)
    {
        y[i] = (int)x[i];
    }

    [Kernel]
    private static void Int32ToInt64Kernel(int i, [Extent("count")] ArrayView<int> x, [Extent("count")] ArrayView<long> y)
    {
        y[i] = x[i];
    }

    [Kernel]
    private static void BoolToFloatKernel(int i, [Extent("count")] ArrayView<byte> x, [Extent("count")] ArrayView<float> y)
    {
        y[i] = x[i] != 0 ? 1f : 0f;
    }
}
