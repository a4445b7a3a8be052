using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace MaMA.Data.Images;

/// <summary>How <see cref="DicomWriter"/> encodes an image.</summary>
public sealed record DicomWriteOptions
{
    /// <summary>Explicit VR Little Endian (default) or Implicit VR Little Endian.</summary>
    public bool ExplicitVr { get; init; } = true;

    public Photometric Photometric { get; init; } = Photometric.Monochrome2;

    /// <summary>8 or 16.</summary>
    public int BitsAllocated { get; init; } = 16;

    /// <summary>Defaults to <see cref="BitsAllocated"/>; values must fit in this many bits.</summary>
    public int? BitsStored { get; init; }

    /// <summary>PixelRepresentation 1: values are two's complement.</summary>
    public bool Signed { get; init; }

    public double? RescaleSlope { get; init; }
    public double? RescaleIntercept { get; init; }
    public double? WindowCenter { get; init; }
    public double? WindowWidth { get; init; }

    /// <summary>Modality (0008,0060), "MG" by default.</summary>
    public string Modality { get; init; } = "MG";

    /// <summary>PatientID (0010,0020), written when set.</summary>
    public string? PatientId { get; init; }

    /// <summary>SOP Instance UID; by default a 2.25 UID derived from a hash of the pixels and options (deterministic).</summary>
    public string? SopInstanceUid { get; init; }
}

/// <summary>
/// Writes single-frame grey DICOM Part 10 files (Digital Mammography X-Ray Image Storage - For
/// Presentation) that <see cref="DicomReader"/> and standard tools read: preamble, "DICM", explicit
/// VR file meta information, then the dataset in explicit or implicit VR little endian with the
/// image pixel module, optional rescale and window tags, and the pixel data (OB for 8 bits, OW for 16).
/// </summary>
public static class DicomWriter
{
    /// <summary>Digital Mammography X-Ray Image Storage - For Presentation.</summary>
    public const string MammographyForPresentationSopClass = "1.2.840.10008.5.1.4.1.1.1.2";

    private const string ImplementationClassUid = "2.25.271828182845904523536028747135266249";
    private const string ImplementationVersion = "MAMA_ENGINE_1";

    /// <summary>Writes <paramref name="image"/> (values 0-255) with the given options (16-bit unsigned by default).</summary>
    public static void Write(string path, GreyImage image, DicomWriteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        int[] values = new int[image.Pixels.Length];
        for (int i = 0; i < values.Length; i++) values[i] = image.Pixels[i];
        Write(path, image.Width, image.Height, values, options);
    }

    /// <summary>Writes the file atomically (a temporary file in the same folder, then a rename).</summary>
    public static void Write(string path, int width, int height, ReadOnlySpan<int> values, DicomWriteOptions? options = null) =>
        AtomicFile.WriteAllBytes(path, Encode(width, height, values, options));

    /// <summary>
    /// The bytes of a DICOM file holding <paramref name="values"/> (row-major stored values,
    /// <paramref name="width"/> * <paramref name="height"/> of them, each within the range of
    /// BitsStored and the signedness).
    /// </summary>
    public static byte[] Encode(int width, int height, ReadOnlySpan<int> values, DicomWriteOptions? options = null)
    {
        options ??= new DicomWriteOptions();
        if (width < 1 || height < 1 || width > ushort.MaxValue || height > ushort.MaxValue)
            throw new ArgumentException($"DICOM images are 1..65535 pixels per side, got {width}x{height}.");
        if (values.Length != (long)width * height)
            throw new ArgumentException($"a {width}x{height} image needs {(long)width * height} values, got {values.Length}.");
        int bitsAllocated = options.BitsAllocated;
        if (bitsAllocated is not (8 or 16)) throw new ArgumentException($"BitsAllocated must be 8 or 16, got {bitsAllocated}.");
        int bitsStored = options.BitsStored ?? bitsAllocated;
        if (bitsStored < 1 || bitsStored > bitsAllocated) throw new ArgumentException($"BitsStored must be 1..{bitsAllocated}, got {bitsStored}.");
        long min = options.Signed ? -(1L << (bitsStored - 1)) : 0;
        long max = options.Signed ? (1L << (bitsStored - 1)) - 1 : (1L << bitsStored) - 1;
        int bytesPerPixel = bitsAllocated / 8;
        var pixelData = new byte[(values.Length * bytesPerPixel + 1) & ~1];
        for (int i = 0; i < values.Length; i++)
        {
            int v = values[i];
            if (v < min || v > max)
                throw new ArgumentException($"value {v} at index {i} does not fit {bitsStored} {(options.Signed ? "signed" : "unsigned")} bits ({min}..{max}).");
            if (bytesPerPixel == 1) pixelData[i] = (byte)v;
            else
            {
                pixelData[2 * i] = (byte)v;
                pixelData[2 * i + 1] = (byte)(v >> 8);
            }
        }

        string sopInstance = options.SopInstanceUid ?? DerivedUid(width, height, options, pixelData);
        string syntax = options.ExplicitVr ? DicomTransferSyntax.ExplicitVrLittleEndian : DicomTransferSyntax.ImplicitVrLittleEndian;

        var meta = new DicomElementWriter(explicitVr: true);
        meta.Bytes(0x0002, 0x0001, "OB", [0, 1]);
        meta.Text(0x0002, 0x0002, "UI", MammographyForPresentationSopClass);
        meta.Text(0x0002, 0x0003, "UI", sopInstance);
        meta.Text(0x0002, 0x0010, "UI", syntax);
        meta.Text(0x0002, 0x0012, "UI", ImplementationClassUid);
        meta.Text(0x0002, 0x0013, "SH", ImplementationVersion);
        byte[] metaBytes = meta.ToArray();

        var ds = new DicomElementWriter(options.ExplicitVr);
        ds.Text(0x0008, 0x0016, "UI", MammographyForPresentationSopClass);
        ds.Text(0x0008, 0x0018, "UI", sopInstance);
        ds.Text(0x0008, 0x0060, "CS", options.Modality);
        if (options.PatientId is not null) ds.Text(0x0010, 0x0020, "LO", options.PatientId);
        ds.UShort(0x0028, 0x0002, 1);
        ds.Text(0x0028, 0x0004, "CS", options.Photometric == Photometric.Monochrome1 ? "MONOCHROME1" : "MONOCHROME2");
        ds.UShort(0x0028, 0x0010, (ushort)height);
        ds.UShort(0x0028, 0x0011, (ushort)width);
        ds.UShort(0x0028, 0x0100, (ushort)bitsAllocated);
        ds.UShort(0x0028, 0x0101, (ushort)bitsStored);
        ds.UShort(0x0028, 0x0102, (ushort)(bitsStored - 1));
        ds.UShort(0x0028, 0x0103, (ushort)(options.Signed ? 1 : 0));
        if (options.WindowCenter is double wc) ds.Text(0x0028, 0x1050, "DS", DecimalString(wc));
        if (options.WindowWidth is double ww) ds.Text(0x0028, 0x1051, "DS", DecimalString(ww));
        if (options.RescaleIntercept is double ri) ds.Text(0x0028, 0x1052, "DS", DecimalString(ri));
        if (options.RescaleSlope is double rs) ds.Text(0x0028, 0x1053, "DS", DecimalString(rs));
        ds.Bytes(0x7FE0, 0x0010, bytesPerPixel == 1 ? "OB" : "OW", pixelData);

        var file = new MemoryStream();
        file.Write(new byte[128]);
        file.Write("DICM"u8);
        var groupLength = new DicomElementWriter(explicitVr: true);
        groupLength.UInt(0x0002, 0x0000, (uint)metaBytes.Length);
        file.Write(groupLength.ToArray());
        file.Write(metaBytes);
        file.Write(ds.ToArray());
        return file.ToArray();
    }

    /// <summary>A DS value of at most 16 characters.</summary>
    internal static string DecimalString(double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"DS values must be finite, got {value}.");
        string s = value.ToString("R", CultureInfo.InvariantCulture);
        for (int digits = 15; s.Length > 16 && digits > 0; digits--)
            s = value.ToString("G" + digits, CultureInfo.InvariantCulture);
        return s;
    }

    private static string DerivedUid(int width, int height, DicomWriteOptions options, byte[] pixelData)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{width}x{height}|{options with { SopInstanceUid = null }}"));
        sha.AppendData(pixelData);
        byte[] hash = sha.GetHashAndReset();
        var number = new BigInteger(hash.AsSpan(0, 16), isUnsigned: true);
        return "2.25." + number.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// Encodes DICOM data elements in little endian, explicit or implicit VR. Values are padded to an
/// even length (UI with a NUL, other strings with a space, binary with a zero). Used by
/// <see cref="DicomWriter"/> and by tests that build unusual files (sequences, bad lengths).
/// </summary>
internal sealed class DicomElementWriter(bool explicitVr)
{
    private static readonly HashSet<string> LongVrs = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"];
    private readonly MemoryStream _out = new();

    public bool ExplicitVr { get; } = explicitVr;

    public byte[] ToArray() => _out.ToArray();

    public DicomElementWriter Text(ushort group, ushort element, string vr, string value)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(value);
        if (bytes.Length % 2 != 0) Array.Resize(ref bytes, bytes.Length + 1);
        if (bytes.Length > value.Length) bytes[^1] = vr == "UI" ? (byte)0 : (byte)' ';
        return Bytes(group, element, vr, bytes);
    }

    public DicomElementWriter UShort(ushort group, ushort element, ushort value) => Bytes(group, element, "US", [(byte)value, (byte)(value >> 8)]);

    public DicomElementWriter UInt(ushort group, ushort element, uint value) =>
        Bytes(group, element, "UL", [(byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24)]);

    /// <summary>An element with the given value bytes (padded with a zero byte to an even length).</summary>
    public DicomElementWriter Bytes(ushort group, ushort element, string vr, ReadOnlySpan<byte> value)
    {
        int length = (value.Length + 1) & ~1;
        Header(group, element, vr, (uint)length);
        _out.Write(value);
        if (length > value.Length) _out.WriteByte(0);
        return this;
    }

    /// <summary>An element header with any length (for tests: lengths that lie), followed by nothing.</summary>
    public DicomElementWriter Header(ushort group, ushort element, string vr, uint length)
    {
        Tag(group, element);
        if (!ExplicitVr)
        {
            U32(length);
            return this;
        }
        _out.Write(Encoding.ASCII.GetBytes(vr));
        if (LongVrs.Contains(vr))
        {
            _out.WriteByte(0);
            _out.WriteByte(0);
            U32(length);
        }
        else
        {
            if (length > ushort.MaxValue) throw new ArgumentException($"VR {vr} has a 16-bit length; {length} does not fit.");
            _out.WriteByte((byte)length);
            _out.WriteByte((byte)(length >> 8));
        }
        return this;
    }

    /// <summary>
    /// A sequence of items, each an encoded dataset (from another writer with the same VR mode).
    /// Sequence and item lengths are written either defined or undefined (with delimiters).
    /// </summary>
    public DicomElementWriter Sequence(ushort group, ushort element, IReadOnlyList<byte[]> items, bool undefinedSequenceLength, bool undefinedItemLengths)
    {
        var body = new MemoryStream();
        foreach (byte[] item in items)
        {
            WriteTag(body, 0xFFFE, 0xE000);
            WriteU32(body, undefinedItemLengths ? 0xFFFFFFFF : (uint)item.Length);
            body.Write(item);
            if (undefinedItemLengths)
            {
                WriteTag(body, 0xFFFE, 0xE00D);
                WriteU32(body, 0);
            }
        }
        if (undefinedSequenceLength)
        {
            WriteTag(body, 0xFFFE, 0xE0DD);
            WriteU32(body, 0);
        }
        Header(group, element, "SQ", undefinedSequenceLength ? 0xFFFFFFFF : (uint)body.Length);
        _out.Write(body.ToArray());
        return this;
    }

    /// <summary>Raw bytes appended as they are.</summary>
    public DicomElementWriter Raw(ReadOnlySpan<byte> bytes)
    {
        _out.Write(bytes);
        return this;
    }

    private void Tag(ushort group, ushort element) => WriteTag(_out, group, element);

    private void U32(uint v) => WriteU32(_out, v);

    private static void WriteTag(Stream s, ushort group, ushort element)
    {
        s.WriteByte((byte)group);
        s.WriteByte((byte)(group >> 8));
        s.WriteByte((byte)element);
        s.WriteByte((byte)(element >> 8));
    }

    private static void WriteU32(Stream s, uint v)
    {
        s.WriteByte((byte)v);
        s.WriteByte((byte)(v >> 8));
        s.WriteByte((byte)(v >> 16));
        s.WriteByte((byte)(v >> 24));
    }
}
