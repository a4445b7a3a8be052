using System.Security.Cryptography;

namespace MaMA.Model.Checkpoints;

/// <summary>
/// SHA-256 of a weights file, lower-case hex. Recorded in config.json when a model directory is
/// written and compared on load, so a truncated copy or a bit flip in <c>model.safetensors</c> is
/// reported as such instead of as a strange loss curve.
/// </summary>
public static class WeightsChecksum
{
    public static string OfFile(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    public static bool IsWellFormed(string? hex) => hex is { Length: 64 } && hex.All(char.IsAsciiHexDigitLower);
}
