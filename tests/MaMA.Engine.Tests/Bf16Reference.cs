namespace MaMA.Engine.Tests;

/// <summary>
/// The bf16 rounding tests compare against, written here on its own (round to nearest even on the
/// float's bits) rather than taken from the engine's conversion it checks.
/// </summary>
internal static class Bf16Reference
{
    /// <summary>v rounded to the nearest bf16 value (ties to even), as a float.</summary>
    public static float Round(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u);
    }
}
