using System.Buffers.Binary;
using System.Text;

namespace MaMA.Reliability.Tests.Corpus;

/// <summary>
/// Writes DICOM Part 10 bytes element by element (explicit or implicit VR little endian), with
/// raw access to the VR and the length field so corpus cases can lie about either.
/// </summary>
internal sealed class DicomBuilder(bool explicitVr = true)
{
    public const string ExplicitLE = "1.2.840.10008.1.2.1";
    public const string ImplicitLE = "1.2.840.10008.1.2";
    private static readonly HashSet<string> LongVrs = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"];
    private readonly MemoryStream _ms = new();

    /// <summary>An element; <paramref name="length"/> overrides the length field (the value is written as given).</summary>
    public DicomBuilder Element(ushort group, ushort element, string vr, ReadOnlySpan<byte> value, uint? length = null)
    {
        Span<byte> h = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(h, group);
        BinaryPrimitives.WriteUInt16LittleEndian(h[2..], element);
        uint len = length ?? (uint)value.Length;
        if (!explicitVr || group == 0xFFFE)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], len);
            _ms.Write(h[..8]);
        }
        else if (LongVrs.Contains(vr))
        {
            h[4] = (byte)vr[0];
            h[5] = (byte)vr[1];
            h[6] = h[7] = 0;
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], len);
            _ms.Write(h);
        }
        else
        {
            h[4] = (byte)vr[0];
            h[5] = (byte)vr[1];
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], (ushort)len);
            _ms.Write(h[..8]);
        }
        _ms.Write(value);
        return this;
    }

    public DicomBuilder US(ushort group, ushort element, ushort v, string vr = "US")
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        return Element(group, element, vr, b);
    }

    public DicomBuilder Text(ushort group, ushort element, string vr, string text)
    {
        byte[] b = Encoding.ASCII.GetBytes(text.Length % 2 == 0 ? text : text + (vr == "UI" ? "\0" : " "));
        return Element(group, element, vr, b);
    }

    /// <summary>Raw bytes appended as they are (items, delimiters, junk).</summary>
    public DicomBuilder Raw(ReadOnlySpan<byte> bytes)
    {
        _ms.Write(bytes);
        return this;
    }

    public byte[] ToArray() => _ms.ToArray();

    /// <summary>Preamble, "DICM", a meta group holding only the transfer syntax, then <paramref name="dataset"/>.</summary>
    public static byte[] Part10(string transferSyntax, byte[] dataset)
    {
        byte[] meta = new DicomBuilder(true).Text(0x0002, 0x0010, "UI", transferSyntax).ToArray();
        return [.. new byte[128], .. "DICM"u8, .. meta, .. dataset];
    }

    /// <summary>
    /// The pixel module of a grey image, in tag order, before the pixel data; every argument can be
    /// bent by a case. Pixel data is <paramref name="pixelBytes"/> bytes (null: rows x columns x 2).
    /// </summary>
    public static DicomBuilder Image(ushort rows = 4, ushort columns = 3, ushort bitsAllocated = 16, string photometric = "MONOCHROME2",
        bool explicitVr = true, Action<DicomBuilder>? beforePixelModule = null, Action<DicomBuilder>? extra = null)
    {
        var b = new DicomBuilder(explicitVr);
        b.Text(0x0008, 0x0060, "CS", "MG");
        beforePixelModule?.Invoke(b);
        b.US(0x0028, 0x0002, 1).Text(0x0028, 0x0004, "CS", photometric).US(0x0028, 0x0010, rows).US(0x0028, 0x0011, columns)
         .US(0x0028, 0x0100, bitsAllocated).US(0x0028, 0x0101, bitsAllocated).US(0x0028, 0x0103, 0);
        extra?.Invoke(b);
        return b;
    }

    public DicomBuilder Pixels(int bytes, uint? length = null) => Element(0x7FE0, 0x0010, "OW", new byte[bytes], length);
}
