using System.Globalization;

namespace MaMA.Engine.Memory;

/// <summary>
/// The device memory cap from <c>MAMA_DEVICE_MEMORY_LIMIT</c>: every device's caching allocator
/// keeps its reserved bytes under it, so a run can be tried as if on a smaller GPU, and an
/// out-of-memory can be provoked at the same point every time (docs/reliability.md). The value is
/// bytes, or a number with K, M, G or T (optionally followed by B or iB; all binary, 1M = 2^20).
/// </summary>
public static class DeviceMemoryLimit
{
    public const string Variable = "MAMA_DEVICE_MEMORY_LIMIT";

    /// <summary>The cap from the environment; null when the variable is unset or empty.</summary>
    public static long? FromEnvironment() => Parse(Environment.GetEnvironmentVariable(Variable));

    /// <summary>"512MB", "1.5GiB", "65536" as bytes; null for null or blank.</summary>
    public static long? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        string t = text.Trim();
        string upper = t.ToUpperInvariant();
        if (upper.EndsWith("IB", StringComparison.Ordinal)) upper = upper[..^2];
        else if (upper.EndsWith('B')) upper = upper[..^1];
        int shift = upper.Length == 0 ? -1 : upper[^1] switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        if (shift > 0) upper = upper[..^1];
        if (shift < 0 || !double.TryParse(upper.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                      || !double.IsFinite(value) || value <= 0 || value * Math.Pow(2, shift) >= long.MaxValue)
            throw new ArgumentException($"{Variable}='{text}' is not a memory size: write bytes or a number with K, M, G or T (binary units), e.g. 512MB.");
        return (long)(value * Math.Pow(2, shift));
    }
}
