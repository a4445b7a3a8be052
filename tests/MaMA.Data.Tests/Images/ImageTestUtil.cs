using System.Security.Cryptography;
using MaMA.Data.Images;

namespace MaMA.Data.Tests.Images;

/// <summary>Helpers shared by the image tests: deterministic patterns, hashes, temporary folders.</summary>
internal static class ImageTestUtil
{
    /// <summary>xorshift32 noise (the top byte of each state), the same generator the expected hashes were computed with in Python.</summary>
    public static GreyImage Pattern(int width, int height, uint seed)
    {
        var px = new byte[width * height];
        uint x = seed;
        for (int i = 0; i < px.Length; i++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            px[i] = (byte)(x >> 24);
        }
        return new GreyImage(width, height, px);
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static GreyImage Image(int width, params byte[] pixels) => new(width, pixels.Length / width, pixels);

    public static byte[][] Rows(GreyImage image) => Enumerable.Range(0, image.Height).Select(y => image.Row(y).ToArray()).ToArray();

    /// <summary>A Part 10 file: preamble, DICM, meta with only the transfer syntax, then the dataset.</summary>
    public static byte[] Part10(string transferSyntax, bool explicitVr, Action<DicomElementWriter> dataset)
    {
        var meta = new DicomElementWriter(explicitVr: true);
        meta.Text(0x0002, 0x0010, "UI", transferSyntax);
        var ds = new DicomElementWriter(explicitVr);
        dataset(ds);
        return [.. new byte[128], .. "DICM"u8, .. meta.ToArray(), .. ds.ToArray()];
    }

    public static string NewTempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mama-img-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}
