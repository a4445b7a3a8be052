using System.Globalization;
using System.Text;

namespace MaMA.Data.Images;

/// <summary>
/// Reads single-frame grey DICOM Part 10 files (128-byte preamble, "DICM", explicit VR little-endian
/// file meta information) in the two uncompressed little-endian transfer syntaxes, without any DICOM
/// library. Every declared length is checked against the bytes that remain, sequences (defined and
/// undefined lengths, explicit and implicit VR, nested up to 32 levels) are skipped item by item,
/// and the pixel-count limit is checked from Rows and Columns before any pixel buffer exists, so a
/// hostile or damaged file fails fast with an <see cref="ImageReadException"/> naming it.
/// </summary>
public static class DicomReader
{
    /// <summary>Whether the bytes start like a DICOM Part 10 file ("DICM" at offset 128).</summary>
    public static bool HasPart10Header(ReadOnlySpan<byte> start) =>
        start.Length >= 132 && start[128] == 'D' && start[129] == 'I' && start[130] == 'C' && start[131] == 'M';

    /// <summary>Reads <paramref name="path"/>; see <see cref="DicomReader"/>.</summary>
    public static DicomImage Read(string path, ImageReadOptions? options = null)
    {
        options ??= ImageReadOptions.Default;
        long length = new FileInfo(path).Length; // FileNotFoundException names the file
        if (length > Array.MaxLength)
            throw new ImageReadException(path, $"file is {length:N0} bytes; DICOM files over 2 GiB are not read.");
        return Read(File.ReadAllBytes(path), path, options);
    }

    /// <summary>Parses a whole DICOM file held in memory; <paramref name="name"/> is used in messages.</summary>
    public static DicomImage Read(byte[] data, string name, ImageReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= ImageReadOptions.Default;
        return new Parser(data, name).Parse(options.MaxPixels);
    }

    private sealed class Parser(byte[] data, string path)
    {
        private const uint Undefined = 0xFFFFFFFF;
        private const int MaxDepth = 32;
        private const uint TransferSyntaxTag = 0x0002_0010;
        private const uint PixelDataTag = 0x7FE0_0010;
        private const uint ItemTag = 0xFFFE_E000;
        private const uint ItemDelimiterTag = 0xFFFE_E00D;
        private const uint SequenceDelimiterTag = 0xFFFE_E0DD;

        private static readonly HashSet<string> KnownVrs =
        [
            "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW",
            "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
        ];

        private static readonly HashSet<string> LongVrs = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"];

        private readonly byte[] _d = data;
        private int _pos;
        private bool _explicit;
        private string _transferSyntax = "";

        private int? _rows, _columns, _bitsAllocated, _bitsStored, _pixelRepresentation, _samplesPerPixel, _frames;
        private string? _photometric;
        private double _slope = 1, _intercept;
        private double? _windowCenter, _windowWidth;
        private string _voiFunction = "";
        private int _pixelOffset = -1;
        private long _pixelLength;

        private readonly record struct Header(uint Tag, string? Vr, uint Length, int Offset)
        {
            public ushort Group => (ushort)(Tag >> 16);
        }

        public DicomImage Parse(long maxPixels)
        {
            if (_d.Length < 132)
                Fail($"only {_d.Length} bytes: too short for a DICOM Part 10 file (128-byte preamble, 'DICM', file meta information).");
            if (!HasPart10Header(_d))
                Fail("not a DICOM Part 10 file: no 'DICM' marker after the 128-byte preamble.");
            _pos = 132;

            string? syntax = null;
            while (_pos + 4 <= _d.Length && U16(_pos) == 0x0002)
            {
                Header e = ReadHeader(explicitVr: true);
                if (e.Length == Undefined) Fail($"file meta element {TagText(e.Tag)} at offset {e.Offset} has an undefined length.");
                CheckFits(e);
                if (e.Tag == TransferSyntaxTag)
                {
                    if (e.Vr is not ("UI" or "UN")) Fail($"Transfer Syntax UID {TagText(e.Tag)} has VR '{e.Vr}', expected UI.");
                    syntax = Text(e);
                }
                _pos += (int)e.Length;
            }
            if (syntax is null) Fail("the file meta information (group 0002) has no Transfer Syntax UID (0002,0010).");
            if (!DicomTransferSyntax.IsSupported(syntax)) Fail(DicomTransferSyntax.UnsupportedMessage(syntax));
            _transferSyntax = syntax;
            _explicit = syntax == DicomTransferSyntax.ExplicitVrLittleEndian;

            ParseDataset();
            return Build(maxPixels);
        }

        private void ParseDataset()
        {
            while (_pos < _d.Length)
            {
                Header e = ReadHeader(_explicit);
                if (e.Group == 0xFFFE)
                    Fail($"unexpected {TagText(e.Tag)} (an item or delimiter) outside any sequence at offset {e.Offset}.");
                if (e.Tag == PixelDataTag)
                {
                    if (_explicit && e.Vr is not ("OB" or "OW" or "UN"))
                        Fail($"Pixel Data {TagText(e.Tag)} has VR '{e.Vr}', expected OB or OW.");
                    if (e.Length == Undefined)
                        Fail($"Pixel Data {TagText(e.Tag)} has an undefined length, i.e. encapsulated (compressed) pixel data, which transfer syntax {_transferSyntax} ({DicomTransferSyntax.NameOf(_transferSyntax)}) does not allow.");
                    CheckFits(e);
                    _pixelOffset = _pos;
                    _pixelLength = e.Length;
                    return; // anything after the pixel data (padding, signatures) is not needed
                }
                if (e.Length == Undefined)
                {
                    SkipUndefinedLength(e, 1);
                    continue;
                }
                CheckFits(e);
                if (e.Group == 0x0028) Record(e);
                _pos += (int)e.Length;
            }
        }

        /// <summary>An undefined-length element other than pixel data must be a sequence (SQ, or UN holding an implicit-VR sequence).</summary>
        private void SkipUndefinedLength(Header e, int depth)
        {
            if (e.Vr is not (null or "SQ" or "UN"))
                Fail($"element {TagText(e.Tag)} with VR '{e.Vr}' at offset {e.Offset} has an undefined length, which only sequences may have.");
            // Implicit VR: the items are implicit too. CP-246: an undefined-length UN holds implicit-VR items.
            SkipSequence(itemsExplicit: e.Vr == "SQ", depth);
        }

        private void SkipSequence(bool itemsExplicit, int depth)
        {
            if (depth > MaxDepth) Fail($"sequences nested deeper than {MaxDepth} levels at offset {_pos}.");
            while (true)
            {
                int at = _pos;
                Need(8, "sequence item header");
                uint tag = Tag(_pos);
                uint length = U32(_pos + 4);
                _pos += 8;
                if (tag == SequenceDelimiterTag) return;
                if (tag != ItemTag)
                    Fail($"expected a sequence item (FFFE,E000) or sequence delimiter (FFFE,E0DD) at offset {at}, found {TagText(tag)}.");
                if (length == Undefined)
                    SkipItem(itemsExplicit, depth);
                else
                {
                    CheckFits(new Header(tag, null, length, at));
                    _pos += (int)length;
                }
            }
        }

        private void SkipItem(bool explicitVr, int depth)
        {
            while (true)
            {
                Need(4, "element tag");
                if (Tag(_pos) == ItemDelimiterTag)
                {
                    Need(8, "item delimiter");
                    _pos += 8;
                    return;
                }
                Header e = ReadHeader(explicitVr);
                if (e.Group == 0xFFFE) Fail($"unexpected {TagText(e.Tag)} inside a sequence item at offset {e.Offset}.");
                if (e.Length == Undefined)
                {
                    SkipUndefinedLength(e, depth + 1);
                    continue;
                }
                CheckFits(e);
                _pos += (int)e.Length;
            }
        }

        private Header ReadHeader(bool explicitVr)
        {
            int start = _pos;
            Need(8, "element header");
            uint tag = Tag(_pos);
            if (tag >> 16 == 0xFFFE || !explicitVr)
            {
                uint length = U32(_pos + 4);
                _pos += 8;
                return new Header(tag, null, length, start);
            }
            byte a = _d[_pos + 4], b = _d[_pos + 5];
            if (a is < (byte)'A' or > (byte)'Z' || b is < (byte)'A' or > (byte)'Z')
                Fail($"invalid VR bytes 0x{a:X2} 0x{b:X2} for element {TagText(tag)} at offset {start}: not an explicit VR (corrupt file, or the transfer syntax is wrong).");
            string vr = string.Create(2, (a, b), static (s, v) => { s[0] = (char)v.a; s[1] = (char)v.b; });
            if (!KnownVrs.Contains(vr)) Fail($"unknown VR '{vr}' for element {TagText(tag)} at offset {start}.");
            if (LongVrs.Contains(vr))
            {
                Need(12, "element header");
                uint length = U32(_pos + 8);
                _pos += 12;
                return new Header(tag, vr, length, start);
            }
            uint shortLength = U16(_pos + 6);
            _pos += 8;
            return new Header(tag, vr, shortLength, start);
        }

        private void Record(Header e)
        {
            switch (e.Tag)
            {
                case 0x0028_0002: _samplesPerPixel = US(e, "SamplesPerPixel"); break;
                case 0x0028_0004: _photometric = Str(e, "PhotometricInterpretation", "CS"); break;
                case 0x0028_0008: _frames = IntString(e, "NumberOfFrames"); break;
                case 0x0028_0010: _rows = US(e, "Rows"); break;
                case 0x0028_0011: _columns = US(e, "Columns"); break;
                case 0x0028_0100: _bitsAllocated = US(e, "BitsAllocated"); break;
                case 0x0028_0101: _bitsStored = US(e, "BitsStored"); break;
                case 0x0028_0103: _pixelRepresentation = US(e, "PixelRepresentation"); break;
                case 0x0028_1050: _windowCenter = Decimal(e, "WindowCenter"); break;
                case 0x0028_1051: _windowWidth = Decimal(e, "WindowWidth"); break;
                case 0x0028_1052: _intercept = Decimal(e, "RescaleIntercept") ?? 0; break;
                case 0x0028_1053: _slope = Decimal(e, "RescaleSlope") ?? 1; break;
                case 0x0028_1056: _voiFunction = Str(e, "VOILUTFunction", "CS"); break;
            }
        }

        private DicomImage Build(long maxPixels)
        {
            if (_pixelOffset < 0) Fail("no Pixel Data (7FE0,0010) element.");
            if (_rows is null || _columns is null) Fail($"{(_rows is null ? "Rows (0028,0010)" : "Columns (0028,0011)")} is missing.");
            int rows = _rows.Value, columns = _columns.Value;
            if (rows == 0 || columns == 0) Fail($"the image is empty (Rows {rows}, Columns {columns}).");
            long pixels = (long)rows * columns;
            if (pixels > maxPixels || pixels > Array.MaxLength)
                Fail($"Rows x Columns = {rows} x {columns} = {pixels:N0} pixels exceeds the limit of {maxPixels:N0} pixels (ImageReadOptions.MaxPixels); not decoded.");
            int samples = _samplesPerPixel ?? 1;
            if (samples != 1) Fail($"SamplesPerPixel is {samples}: only grey images (1 sample per pixel) are supported.");
            Photometric photometric = _photometric switch
            {
                "MONOCHROME2" => Photometric.Monochrome2,
                "MONOCHROME1" => Photometric.Monochrome1,
                null => Fail<Photometric>("PhotometricInterpretation (0028,0004) is missing."),
                _ => Fail<Photometric>($"PhotometricInterpretation '{_photometric}' is not supported: only MONOCHROME1 and MONOCHROME2."),
            };
            if (_bitsAllocated is null) Fail("BitsAllocated (0028,0100) is missing.");
            int bitsAllocated = _bitsAllocated.Value;
            if (bitsAllocated is not (8 or 16)) Fail($"BitsAllocated {bitsAllocated} is not supported: only 8 and 16.");
            int bitsStored = _bitsStored ?? bitsAllocated;
            if (bitsStored < 1 || bitsStored > bitsAllocated) Fail($"BitsStored {bitsStored} is not between 1 and BitsAllocated ({bitsAllocated}).");
            int representation = _pixelRepresentation ?? 0;
            if (representation is not (0 or 1)) Fail($"PixelRepresentation {representation} is invalid (0 unsigned, 1 signed).");
            int frames = _frames ?? 1;
            if (frames != 1) Fail($"NumberOfFrames is {frames}: only single-frame images are supported.");
            int bytesPerPixel = bitsAllocated / 8;
            long needed = pixels * bytesPerPixel;
            if (_pixelLength < needed)
                Fail($"Pixel Data holds {_pixelLength:N0} bytes but {rows} x {columns} pixels of {bytesPerPixel} byte(s) need {needed:N0} (truncated pixel data).");

            var values = new int[pixels];
            ReadOnlySpan<byte> src = _d.AsSpan(_pixelOffset, (int)needed);
            bool signed = representation == 1;
            int shift = 32 - bitsStored;
            int mask = (int)((1u << bitsStored) - 1);
            for (int i = 0; i < values.Length; i++)
            {
                int v = bytesPerPixel == 1 ? src[i] : src[2 * i] | (src[2 * i + 1] << 8);
                values[i] = signed ? (v << shift) >> shift : v & mask;
            }
            return new DicomImage(path, _transferSyntax, rows, columns, bitsAllocated, bitsStored, signed, photometric,
                _slope, _intercept, _windowCenter, _windowWidth, _voiFunction, values);
        }

        // ---- values ----

        private void ExpectVr(Header e, string name, string expected)
        {
            if (_explicit && e.Vr != expected && e.Vr != "UN")
                Fail($"{name} {TagText(e.Tag)} has VR '{e.Vr}', expected {expected}.");
        }

        private int US(Header e, string name)
        {
            ExpectVr(e, name, "US");
            if (e.Length < 2 || e.Length % 2 != 0) Fail($"{name} {TagText(e.Tag)} has a {e.Length}-byte value, expected 2 bytes (US).");
            return U16(_pos);
        }

        private string Str(Header e, string name, string vr)
        {
            ExpectVr(e, name, vr);
            return Text(e);
        }

        private int? IntString(Header e, string name)
        {
            string s = FirstValue(Str(e, name, "IS"));
            if (s.Length == 0) return null;
            return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : Fail<int>($"{name} {TagText(e.Tag)} is not an integer string: '{s}'.");
        }

        private double? Decimal(Header e, string name)
        {
            string s = FirstValue(Str(e, name, "DS"));
            if (s.Length == 0) return null;
            return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
                ? v
                : Fail<double>($"{name} {TagText(e.Tag)} is not a decimal string: '{s}'.");
        }

        private static string FirstValue(string s)
        {
            int slash = s.IndexOf('\\');
            return (slash >= 0 ? s[..slash] : s).Trim();
        }

        private string Text(Header e) => Encoding.ASCII.GetString(_d, _pos, (int)e.Length).Trim(' ', '\0');

        // ---- bytes ----

        private ushort U16(int at) => (ushort)(_d[at] | (_d[at + 1] << 8));

        private uint U32(int at) => (uint)(_d[at] | (_d[at + 1] << 8) | (_d[at + 2] << 16) | (_d[at + 3] << 24));

        private uint Tag(int at) => ((uint)U16(at) << 16) | U16(at + 2);

        private void Need(int bytes, string what)
        {
            if ((long)_pos + bytes > _d.Length)
                Fail($"truncated: the {what} at offset {_pos} needs {bytes} bytes but the file ends at {_d.Length}.");
        }

        private void CheckFits(Header e)
        {
            long remaining = _d.Length - (long)_pos;
            if (e.Length > remaining)
                Fail($"element {TagText(e.Tag)} at offset {e.Offset} declares {e.Length:N0} bytes but only {remaining:N0} remain (truncated or corrupt file).");
        }

        private static string TagText(uint tag) => $"({tag >> 16:X4},{tag & 0xFFFF:X4})";

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Fail(string reason) => throw new ImageReadException(path, "DICOM: " + reason);

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private T Fail<T>(string reason) => throw new ImageReadException(path, "DICOM: " + reason);
    }
}
