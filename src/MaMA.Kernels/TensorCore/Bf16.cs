using ILGPU;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// bfloat16 as 16-bit patterns (ILGPU has no bf16 type): the top half of an fp32. Rounding is to
/// nearest even, NaN stays NaN; the same rule as Casts.FloatToBFloat16 and torch. Usable in
/// kernels (Interop bit casts) and on the host.
/// </summary>
public static class Bf16
{
    /// <summary>fp32 -> bf16 bits, round to nearest even.</summary>
    public static ushort FromFloat(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((bits >> 16) | 0x40u);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>bf16 bits -> fp32 (exact).</summary>
    public static float ToFloat(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    /// <summary>Two bf16 in one .b32 register: <paramref name="lo"/> is the lower-numbered element.</summary>
    public static uint Pack(ushort lo, ushort hi) => lo | ((uint)hi << 16);

    /// <summary>The low (lower-numbered) bf16 of a packed pair, as fp32.</summary>
    public static float Low(uint pair) => Interop.IntAsFloat(pair << 16);

    /// <summary>The high bf16 of a packed pair, as fp32.</summary>
    public static float High(uint pair) => Interop.IntAsFloat(pair & 0xFFFF0000u);

    /// <summary>fp32 rounded through bf16 (what a bf16 operand of the tensor core sees).</summary>
    public static float Round(float x) => ToFloat(FromFloat(x));
}
