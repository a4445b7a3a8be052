using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace MaMA.Reliability.Tests.Corpus;

/// <summary>
/// Writes PNG files chunk by chunk so that a corpus case can lie in exactly one place (a header
/// field, a chunk length, a missing chunk) while everything else, CRCs included, stays valid.
/// </summary>
internal static class PngBuilder
{
    public static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>IHDR data: width, height, bit depth, colour type (0 grey, 2 RGB), deflate, filter 0, no interlace.</summary>
    public static byte[] Ihdr(uint width, uint height, byte bitDepth = 8, byte colourType = 0)
    {
        var d = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(d, width);
        BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(4), height);
        d[8] = bitDepth;
        d[9] = colourType;
        return d;
    }

    public static byte[] Chunk(string type, ReadOnlySpan<byte> data, uint? lengthOverride = null)
    {
        var c = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(c, lengthOverride ?? (uint)data.Length);
        Encoding.ASCII.GetBytes(type, c.AsSpan(4));
        data.CopyTo(c.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(8 + data.Length), Crc32.Of(c.AsSpan(4, 4 + data.Length)));
        return c;
    }

    /// <summary>
    /// The zlib stream of <paramref name="height"/> rows of filter byte 0 and <paramref name="rowBytes"/>
    /// zeros, compressed row by row (one reused buffer) so that a 144-megapixel bomb costs a few KiB
    /// of memory to make.
    /// </summary>
    public static byte[] ZeroRows(int rowBytes, int height)
    {
        var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[1 + rowBytes];
            for (int y = 0; y < height; y++) z.Write(row);
        }
        return ms.ToArray();
    }

    public static byte[] File(params byte[][] chunks) => [.. Signature, .. chunks.SelectMany(c => c)];

    /// <summary>A valid 8-bit grey PNG of width x height zeros.</summary>
    public static byte[] Grey(int width, int height) =>
        File(Chunk("IHDR", Ihdr((uint)width, (uint)height)), Chunk("IDAT", ZeroRows(width, height)), Chunk("IEND", []));
}

/// <summary>CRC-32 (IEEE, reflected 0xEDB88320), as PNG chunks use.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static uint Of(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFF;
    }
}
