using System.Buffers.Binary;
using MaMA.Data.Images;

namespace MaMA.Reliability.Tests.Corpus;

/// <summary>
/// Bad DICOM files: truncations, lengths that overflow, wrong and invalid VRs, huge and zero
/// dimensions, unsupported encodings, deep sequences. Each must end in an <see cref="ImageReadException"/>
/// whose reason contains <see cref="Case.Reason"/>, quickly and without allocating for the size it claims.
/// </summary>
public static class DicomCorpus
{
    public sealed record Case(string Name, byte[] Bytes, string Reason)
    {
        public override string ToString() => Name;
    }

    public static byte[] Valid(bool explicitVr = true) =>
        DicomBuilder.Part10(explicitVr ? DicomBuilder.ExplicitLE : DicomBuilder.ImplicitLE, DicomBuilder.Image(explicitVr: explicitVr).Pixels(4 * 3 * 2).ToArray());

    public static IEnumerable<Case> All()
    {
        byte[] valid = Valid();
        string ts = DicomBuilder.ExplicitLE;
        yield return new("dicom-100-bytes", valid[..100], "unrecognised format");
        yield return new("dicom-preamble-and-dicm-only", valid[..132], "no Transfer Syntax UID");
        yield return new("dicom-truncated-in-meta", valid[..140], "truncated");
        yield return new("dicom-truncated-in-pixel-data", valid[..^5], "declares 24 bytes but only 19 remain");
        yield return new("dicom-truncated-in-element-header", valid[..(valid.Length - 24 - 6)], "truncated");
        yield return new("dicom-element-length-overflow", DicomBuilder.Part10(ts, DicomBuilder.Image(
            extra: b => b.Element(0x0028, 0x1050, "UT", "1"u8, length: 0xFFFFFFF0)).Pixels(24).ToArray()), "declares 4,294,967,280 bytes");
        yield return new("dicom-pixel-length-overflow", DicomBuilder.Part10(ts, DicomBuilder.Image().Pixels(24, length: 0xFFFFFFF0).ToArray()), "declares 4,294,967,280 bytes");
        yield return new("dicom-pixel-data-shorter-than-image", DicomBuilder.Part10(ts, DicomBuilder.Image(rows: 400, columns: 300).Pixels(24).ToArray()), "truncated pixel data");
        yield return new("dicom-wrong-vr-rows-ss", DicomBuilder.Part10(ts, new DicomBuilder().US(0x0028, 0x0010, 4, vr: "SS").Pixels(24).ToArray()), "Rows (0028,0010) has VR 'SS', expected US");
        yield return new("dicom-wrong-vr-pixel-data-cs", DicomBuilder.Part10(ts, DicomBuilder.Image().Element(0x7FE0, 0x0010, "CS", new byte[24]).ToArray()), "has VR 'CS', expected OB or OW");
        yield return new("dicom-invalid-vr-bytes", DicomBuilder.Part10(ts, new DicomBuilder().Raw([0x28, 0x00, 0x10, 0x00, 0x01, 0x02, 0x02, 0x00, 4, 0]).ToArray()), "invalid VR bytes 0x01 0x02");
        yield return new("dicom-unknown-vr", DicomBuilder.Part10(ts, new DicomBuilder().Raw([0x28, 0x00, 0x10, 0x00, (byte)'Q', (byte)'Q', 0x02, 0x00, 4, 0]).ToArray()), "unknown VR 'QQ'");
        yield return new("dicom-us-value-one-byte", DicomBuilder.Part10(ts, new DicomBuilder().Element(0x0028, 0x0010, "US", [4]).Pixels(24).ToArray()), "has a 1-byte value");
        yield return new("dicom-huge-declared-dimensions", DicomBuilder.Part10(ts, DicomBuilder.Image(rows: 65535, columns: 65535).Pixels(24).ToArray()), "exceeds the limit of 100,000,000 pixels");
        yield return new("dicom-zero-rows", DicomBuilder.Part10(ts, DicomBuilder.Image(rows: 0).Pixels(24).ToArray()), "the image is empty");
        yield return new("dicom-zero-columns", DicomBuilder.Part10(ts, DicomBuilder.Image(columns: 0).Pixels(24).ToArray()), "the image is empty");
        yield return new("dicom-missing-pixel-data", DicomBuilder.Part10(ts, DicomBuilder.Image().ToArray()), "no Pixel Data");
        yield return new("dicom-missing-rows", DicomBuilder.Part10(ts, new DicomBuilder().US(0x0028, 0x0011, 3).Pixels(24).ToArray()), "Rows (0028,0010) is missing");
        yield return new("dicom-undefined-length-pixel-data", DicomBuilder.Part10(ts, DicomBuilder.Image().Pixels(0, length: 0xFFFFFFFF).ToArray()), "undefined length");
        yield return new("dicom-bits-allocated-12", DicomBuilder.Part10(ts, DicomBuilder.Image(bitsAllocated: 12).Pixels(24).ToArray()), "BitsAllocated 12 is not supported");
        yield return new("dicom-rgb-photometric", DicomBuilder.Part10(ts, DicomBuilder.Image(photometric: "RGB").Pixels(24).ToArray()), "PhotometricInterpretation 'RGB' is not supported");
        yield return new("dicom-bad-decimal-string", DicomBuilder.Part10(ts, DicomBuilder.Image(extra: b => b.Text(0x0028, 0x1053, "DS", "1e999")).Pixels(24).ToArray()), "RescaleSlope (0028,1053) is not a decimal string");
        yield return new("dicom-two-frames", DicomBuilder.Part10(ts, DicomBuilder.Image(extra: b => b.Text(0x0028, 0x0008, "IS", "2")).Pixels(48).ToArray()), "NumberOfFrames is 2");
        yield return new("dicom-stray-item-delimiter", DicomBuilder.Part10(ts, new DicomBuilder().Raw([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]).ToArray()), "outside any sequence");
        yield return new("dicom-jpeg2000-transfer-syntax", DicomBuilder.Part10("1.2.840.10008.1.2.4.90", DicomBuilder.Image().Pixels(24).ToArray()), "transfer syntax 1.2.840.10008.1.2.4.90");
        yield return new("dicom-big-endian-transfer-syntax", DicomBuilder.Part10("1.2.840.10008.1.2.2", DicomBuilder.Image().Pixels(24).ToArray()), "is not supported");
        yield return new("dicom-sequences-nested-40-deep", DicomBuilder.Part10(ts, NestedSequences(40)), "nested deeper than 32 levels");
        yield return new("dicom-unterminated-sequence", DicomBuilder.Part10(ts, new DicomBuilder().Element(0x0008, 0x1140, "SQ", [], length: 0xFFFFFFFF)
            .Raw([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]).ToArray()), "truncated");
        yield return new("dicom-item-length-overflow", DicomBuilder.Part10(ts, new DicomBuilder().Element(0x0008, 0x1140, "SQ", [], length: 0xFFFFFFFF)
            .Raw([0xFE, 0xFF, 0x00, 0xE0, 0xF0, 0xFF, 0xFF, 0x7F]).ToArray()), "declares 2,147,483,632 bytes");
        yield return new("dicom-implicit-vr-as-explicit", DicomBuilder.Part10(ts, DicomBuilder.Image(explicitVr: false).Pixels(24).ToArray()), "invalid VR bytes");
        byte[] hugeMeta = (byte[])valid.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(hugeMeta.AsSpan(132 + 6), 0xFFFF); // transfer syntax UID length 65535
        yield return new("dicom-meta-length-past-end", hugeMeta, "declares 65,535 bytes");
    }

    /// <summary><paramref name="depth"/> undefined-length sequences, each inside an undefined-length item of the one before.</summary>
    private static byte[] NestedSequences(int depth)
    {
        var b = new DicomBuilder();
        for (int i = 0; i < depth; i++)
        {
            b.Element(0x0008, 0x1140, "SQ", [], length: 0xFFFFFFFF);
            b.Raw([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        return b.ToArray();
    }
}
