namespace MaMA.Data.Images;

/// <summary>Transfer syntax UIDs: the two this engine reads, and names and conversion advice for the rest.</summary>
public static class DicomTransferSyntax
{
    public const string ImplicitVrLittleEndian = "1.2.840.10008.1.2";
    public const string ExplicitVrLittleEndian = "1.2.840.10008.1.2.1";
    public const string DeflatedExplicitVrLittleEndian = "1.2.840.10008.1.2.1.99";
    public const string ExplicitVrBigEndian = "1.2.840.10008.1.2.2";
    public const string JpegBaseline = "1.2.840.10008.1.2.4.50";
    public const string JpegLsLossless = "1.2.840.10008.1.2.4.80";
    public const string Jpeg2000Lossless = "1.2.840.10008.1.2.4.90";
    public const string Jpeg2000 = "1.2.840.10008.1.2.4.91";
    public const string RleLossless = "1.2.840.10008.1.2.5";

    private static readonly Dictionary<string, string> Names = new(StringComparer.Ordinal)
    {
        [ImplicitVrLittleEndian] = "Implicit VR Little Endian",
        [ExplicitVrLittleEndian] = "Explicit VR Little Endian",
        [DeflatedExplicitVrLittleEndian] = "Deflated Explicit VR Little Endian",
        [ExplicitVrBigEndian] = "Explicit VR Big Endian",
        [JpegBaseline] = "JPEG Baseline (Process 1)",
        ["1.2.840.10008.1.2.4.51"] = "JPEG Extended (Process 2 & 4)",
        ["1.2.840.10008.1.2.4.57"] = "JPEG Lossless, Non-Hierarchical (Process 14)",
        ["1.2.840.10008.1.2.4.70"] = "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
        [JpegLsLossless] = "JPEG-LS Lossless",
        ["1.2.840.10008.1.2.4.81"] = "JPEG-LS Lossy (Near-Lossless)",
        [Jpeg2000Lossless] = "JPEG 2000 Image Compression (Lossless Only)",
        [Jpeg2000] = "JPEG 2000 Image Compression",
        ["1.2.840.10008.1.2.4.92"] = "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)",
        ["1.2.840.10008.1.2.4.93"] = "JPEG 2000 Part 2 Multi-component Image Compression",
        ["1.2.840.10008.1.2.4.201"] = "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
        ["1.2.840.10008.1.2.4.202"] = "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
        ["1.2.840.10008.1.2.4.203"] = "High-Throughput JPEG 2000 Image Compression",
        [RleLossless] = "RLE Lossless",
    };

    /// <summary>Whether <paramref name="uid"/> is one of the two uncompressed little-endian syntaxes this engine reads.</summary>
    public static bool IsSupported(string uid) => uid is ImplicitVrLittleEndian or ExplicitVrLittleEndian;

    /// <summary>The standard name of a transfer syntax, or "unknown transfer syntax".</summary>
    public static string NameOf(string uid)
    {
        if (Names.TryGetValue(uid, out string? name)) return name;
        if (uid.StartsWith("1.2.840.10008.1.2.4.", StringComparison.Ordinal)) return "a JPEG-family or video compressed transfer syntax";
        return "unknown transfer syntax";
    }

    /// <summary>The error text for an unsupported syntax: its UID and name, what is supported and how to convert.</summary>
    public static string UnsupportedMessage(string uid)
    {
        string? dcmtk = uid switch
        {
            JpegBaseline or "1.2.840.10008.1.2.4.51" or "1.2.840.10008.1.2.4.57" or "1.2.840.10008.1.2.4.70" => "`dcmdjpeg in.dcm out.dcm` (DCMTK)",
            JpegLsLossless or "1.2.840.10008.1.2.4.81" => "`dcmdjpls in.dcm out.dcm` (DCMTK)",
            RleLossless => "`dcmdrle in.dcm out.dcm` (DCMTK)",
            DeflatedExplicitVrLittleEndian or ExplicitVrBigEndian => "`dcmconv +te in.dcm out.dcm` (DCMTK)",
            _ => null,
        };
        return $"transfer syntax {uid} ({NameOf(uid)}) is not supported: only uncompressed {NameOf(ImplicitVrLittleEndian)} ({ImplicitVrLittleEndian}) " +
               $"and {NameOf(ExplicitVrLittleEndian)} ({ExplicitVrLittleEndian}) are read. Convert the file first, e.g. " +
               "`gdcmconv --raw in.dcm out.dcm` (GDCM)" + (dcmtk is null ? "." : $" or {dcmtk}.");
    }
}
