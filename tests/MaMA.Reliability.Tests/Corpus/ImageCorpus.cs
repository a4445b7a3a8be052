using System.Buffers.Binary;
using MaMA.Data.Images;

namespace MaMA.Reliability.Tests.Corpus;

/// <summary>
/// Bad PNG and JPEG files, each made from a valid one by one documented change. A case is
/// (name, bytes, the exact reason substring the reader must give). Every case must end in an
/// <see cref="ImageReadException"/>; none may crash, hang or allocate for the size it claims.
/// </summary>
public static class ImageCorpus
{
    public sealed record Case(string Name, byte[] Bytes, string Reason, ImageReadOptions? Options = null)
    {
        public override string ToString() => Name;
    }

    private static byte[] ValidPng => PngBuilder.Grey(16, 12);

    public static byte[] ValidJpeg()
    {
        var px = new byte[32 * 24];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)(i * 7);
        var ms = new MemoryStream();
        ImageWriter.WriteJpeg(new GreyImage(32, 24, px), ms, 90);
        return ms.ToArray();
    }

    public static IEnumerable<Case> Png()
    {
        byte[] valid = ValidPng;
        yield return new("png-empty-file", [], "the file is empty");
        yield return new("png-signature-only-5-bytes", valid[..5], "unrecognised format");
        yield return new("png-truncated-half", valid[..(valid.Length / 2)], "PNG is truncated");
        yield return new("png-truncated-in-chunk-header", valid[..(valid.Length - 9)], "PNG is truncated");
        yield return new("png-missing-iend", valid[..(valid.Length - 12)], "PNG is truncated");
        yield return new("png-chunk-length-overflow", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(16, 12)), PngBuilder.Chunk("IDAT", [1, 2, 3], lengthOverride: 0xFFFFFFF0)), "PNG");
        yield return new("png-huge-declared-dimensions", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(100_000, 100_000)), PngBuilder.Chunk("IDAT", PngBuilder.ZeroRows(16, 1)), PngBuilder.Chunk("IEND", [])),
            "over the limit");
        yield return new("png-max-uint-dimensions", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(0x7FFFFFFF, 0x7FFFFFFF)), PngBuilder.Chunk("IEND", [])), "PNG");
        yield return new("png-zero-width", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(0, 12)), PngBuilder.Chunk("IDAT", PngBuilder.ZeroRows(0, 12)), PngBuilder.Chunk("IEND", [])), "PNG");
        yield return new("png-zero-height", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(16, 0)), PngBuilder.Chunk("IEND", [])), "PNG");
        yield return new("png-no-idat", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(16, 12)), PngBuilder.Chunk("IEND", [])), "PNG");
        yield return new("png-bad-bit-depth", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(16, 12, bitDepth: 7)), PngBuilder.Chunk("IDAT", PngBuilder.ZeroRows(16, 12)), PngBuilder.Chunk("IEND", [])), "PNG");
        yield return new("png-idat-not-zlib", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(16, 12)), PngBuilder.Chunk("IDAT", [0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4]), PngBuilder.Chunk("IEND", [])), "PNG");
        byte[] badCrc = (byte[])valid.Clone();
        badCrc[8 + 8 + 13] ^= 0xFF; // first byte of IHDR's CRC
        yield return new("png-ihdr-bad-crc", badCrc, "PNG");
        // A real decompression bomb: 12000 x 12000 grey (144 megapixels, 144 MB of pixels, ~0.6 GB as
        // floats) in a ~140 KB file. The default limit (100 megapixels) refuses it from the header.
        yield return new("png-decompression-bomb-144mp", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(12_000, 12_000)), PngBuilder.Chunk("IDAT", PngBuilder.ZeroRows(12_000, 12_000)), PngBuilder.Chunk("IEND", [])),
            "over the limit of 100,000,000 pixels");
        // The same bomb at 16 megapixels, refused by a lowered limit (ImageReadOptions.MaxPixels).
        yield return new("png-bomb-under-lowered-limit", PngBuilder.File(
            PngBuilder.Chunk("IHDR", PngBuilder.Ihdr(4_000, 4_000)), PngBuilder.Chunk("IDAT", PngBuilder.ZeroRows(4_000, 4_000)), PngBuilder.Chunk("IEND", [])),
            "over the limit of 1,000,000 pixels", new ImageReadOptions { MaxPixels = 1_000_000 });
    }

    public static IEnumerable<Case> Jpeg()
    {
        byte[] valid = ValidJpeg();
        int sof = FindMarker(valid, 0xC0);
        yield return new("jpeg-soi-only", [0xFF, 0xD8, 0xFF], "JPEG");
        yield return new("jpeg-truncated-half", valid[..(valid.Length / 2)], "JPEG");
        yield return new("jpeg-missing-eoi", valid[..^2], "JPEG is truncated");
        yield return new("jpeg-huge-declared-dimensions", WithSof(valid, sof, 65_500, 65_500), "over the limit");
        yield return new("jpeg-zero-height", WithSof(valid, sof, 0, 32), "JPEG");
        yield return new("jpeg-zero-width", WithSof(valid, sof, 24, 0), "JPEG");
        byte[] badSegmentLength = (byte[])valid.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(badSegmentLength.AsSpan(sof + 2), 0xFFFF); // SOF length past the file
        yield return new("jpeg-segment-length-past-end", badSegmentLength, "JPEG");
        byte[] zeroComponents = (byte[])valid.Clone();
        zeroComponents[sof + 9] = 0; // component count 0
        yield return new("jpeg-zero-components", zeroComponents, "JPEG");
        int dht = FindMarker(valid, 0xC4);
        byte[] badHuffman = (byte[])valid.Clone();
        for (int i = 0; i < 16; i++) badHuffman[dht + 5 + i] = 0xFF; // code counts summing to 4080 > 256
        yield return new("jpeg-huffman-counts-overflow", badHuffman, "JPEG");
        int dqt = FindMarker(valid, 0xDB);
        byte[] badQuant = (byte[])valid.Clone();
        badQuant[dqt + 4] = 0x1F; // precision 1 (16-bit), table id 15 (> 3)
        yield return new("jpeg-quant-table-id-15", badQuant, "JPEG");
    }

    /// <summary>The SOF0 with another height and width (big-endian at +5 and +7 from the marker).</summary>
    private static byte[] WithSof(byte[] jpeg, int sof, int height, int width)
    {
        byte[] b = (byte[])jpeg.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(sof + 5), (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(sof + 7), (ushort)width);
        return b;
    }

    /// <summary>Offset of the first FF xx marker (the FF byte).</summary>
    public static int FindMarker(byte[] jpeg, byte marker)
    {
        for (int i = 2; i + 1 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] == marker) return i;
        throw new InvalidOperationException($"marker FF {marker:X2} not found in the valid JPEG.");
    }
}
