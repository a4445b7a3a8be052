using System.Text;

namespace MaMA.Reliability.Tests.Corpus;

/// <summary>
/// Bad safetensors files written byte by byte: a header length that lies, a header that is not
/// JSON, offsets outside the data or overlapping, sizes that disagree with the shape, shapes whose
/// element count overflows, duplicate keys, unknown dtypes, truncated data. Each must be an
/// <see cref="InvalidDataException"/> "not a valid safetensors file: REASON" naming the file.
/// </summary>
public static class SafetensorsCorpus
{
    public sealed record Case(string Name, byte[] Bytes, string Reason)
    {
        public override string ToString() => Name;
    }

    /// <summary>u64 header length, the header as given (no padding), then <paramref name="dataBytes"/> bytes of data.</summary>
    public static byte[] File(string header, int dataBytes, ulong? headerLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes(headerLength ?? (ulong)json.Length), .. json, .. new byte[dataBytes]];
    }

    public static IEnumerable<Case> All()
    {
        const string ok = """{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""";
        byte[] valid = File(ok, 24);
        yield return new("st-empty-file", [], "shorter than the 8-byte header length");
        yield return new("st-7-bytes", valid[..7], "shorter than the 8-byte header length");
        yield return new("st-header-length-zero", File(ok, 24, headerLength: 0), "header length 0 is impossible");
        yield return new("st-header-length-past-end", File(ok, 24, headerLength: 1_000), "header length 1000 is impossible");
        yield return new("st-header-length-2-pow-63", File(ok, 24, headerLength: 1UL << 63), "is impossible");
        yield return new("st-header-not-json", File("{\"w\": [", 0), "header is not valid JSON");
        yield return new("st-header-json-array", File("[1,2,3]", 0), "header is not");
        yield return new("st-header-not-utf8", [.. BitConverter.GetBytes(4UL), 0x7B, 0xFF, 0xFE, 0x7D], "header is not valid JSON");
        yield return new("st-truncated-data", valid[..^4], "outside the 20-byte data section");
        yield return new("st-offsets-past-data", File("""{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,240]}}""", 24), "outside the 24-byte data section");
        yield return new("st-offsets-reversed", File("""{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[24,0]}}""", 24), "data_offsets [24, 0]");
        yield return new("st-offsets-negative", File("""{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[-24,0]}}""", 24), "data_offsets [-24, 0]");
        yield return new("st-offsets-three-numbers", File("""{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12,24]}}""", 24), "data_offsets [0, 12, 24]");
        yield return new("st-size-disagrees-with-shape", File("""{"w":{"dtype":"F32","shape":[2,4],"data_offsets":[0,24]}}""", 24), "needs 32");
        yield return new("st-header-lies-overlap", File("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 24), "overlap");
        yield return new("st-negative-dimension", File("""{"w":{"dtype":"F32","shape":[-2,3],"data_offsets":[0,24]}}""", 24), "negative dimension");
        yield return new("st-dimension-over-int", File("""{"w":{"dtype":"F32","shape":[3000000000],"data_offsets":[0,24]}}""", 24), "malformed header entry");
        // 65536^4 elements = 2^64: the element count wraps to 0, so an unchecked product would accept
        // an empty data range for a tensor whose shape claims 2^64 elements.
        yield return new("st-numel-overflows-to-zero", File("""{"w":{"dtype":"F32","shape":[65536,65536,65536,65536],"data_offsets":[0,0]}}""", 24), "overflows");
        yield return new("st-bytes-overflow", File("""{"w":{"dtype":"I64","shape":[2147483647,2147483647,4],"data_offsets":[0,0]}}""", 24), "overflows");
        yield return new("st-unknown-dtype", File("""{"w":{"dtype":"F128","shape":[2,3],"data_offsets":[0,24]}}""", 24), "malformed header entry");
        yield return new("st-missing-dtype", File("""{"w":{"shape":[2,3],"data_offsets":[0,24]}}""", 24), "malformed header entry");
        yield return new("st-entry-is-null", File("""{"w":null}""", 24), "malformed header entry");
        yield return new("st-shape-of-strings", File("""{"w":{"dtype":"F32","shape":["2","3"],"data_offsets":[0,24]}}""", 24), "malformed header entry");
        yield return new("st-duplicate-keys", File("""{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"w":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}""", 24), "header is not valid JSON");
        yield return new("st-deeply-nested-metadata", File("{\"__metadata__\":" + new string('[', 5000) + new string(']', 5000) + "}", 0), "header is not valid JSON");
    }
}
