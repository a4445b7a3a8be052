using System.Text;

namespace MaMA.Reliability.Tests.Corpus;

/// <summary>
/// Malformed tokenizer folders: each case is a set of files (vocab.json + merges.txt, or
/// tokenizer.json) and the exception type and message part <c>MaMATokenizer.FromDirectory</c> must give.
/// The byte-level alphabet of a tiny valid vocabulary is left out where it does not matter: loading
/// checks the files, encoding checks the alphabet.
/// </summary>
public static class TokenizerCorpus
{
    public sealed record Case(string Name, IReadOnlyDictionary<string, byte[]> Files, Type Error, string Reason)
    {
        public override string ToString() => Name;
    }

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    private static Case VM(string name, string vocab, string merges, Type error, string reason) =>
        new(name, new Dictionary<string, byte[]> { ["vocab.json"] = U(vocab), ["merges.txt"] = U(merges) }, error, reason);

    private static Case TJ(string name, string json, Type error, string reason) =>
        new(name, new Dictionary<string, byte[]> { ["tokenizer.json"] = U(json) }, error, reason);

    private const string Vocab = """{"a":0,"b":1,"ab":2,"<|endoftext|>":3}""";
    private const string Pre = "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false}";

    public static IEnumerable<Case> All()
    {
        Type bad = typeof(InvalidDataException), unsupported = typeof(NotSupportedException), missing = typeof(FileNotFoundException);
        yield return new("tok-empty-folder", new Dictionary<string, byte[]>(), missing, "has neither tokenizer.json nor vocab.json + merges.txt");
        yield return new("tok-merges-missing", new Dictionary<string, byte[]> { ["vocab.json"] = U(Vocab) }, missing, "merges file");
        yield return VM("tok-vocab-empty-file", "", "a b\n", bad, "not valid JSON");
        yield return VM("tok-vocab-truncated", Vocab[..20], "a b\n", bad, "not valid JSON");
        yield return VM("tok-vocab-array", "[1,2,3]", "a b\n", bad, "expected a JSON object");
        yield return VM("tok-vocab-empty-object", "{}", "", bad, "the vocabulary is empty");
        yield return VM("tok-vocab-negative-id", """{"a":-1}""", "", bad, "must be a non-negative integer");
        yield return VM("tok-vocab-string-id", """{"a":"0"}""", "", bad, "must be a non-negative integer");
        yield return VM("tok-vocab-fractional-id", """{"a":0.5}""", "", bad, "must be a non-negative integer");
        yield return VM("tok-vocab-duplicate-token", """{"a":0,"a":1}""", "", bad, "appears twice");
        yield return VM("tok-vocab-duplicate-id", """{"a":0,"b":0}""", "", bad, "id 0 is given to both");
        // A sparse id near int.MaxValue: the vocabulary size is max id + 1, so it would overflow to a
        // negative size (or ask for a 2-billion-row embedding) instead of failing here.
        yield return VM("tok-vocab-id-int-max", """{"a":0,"b":2147483647}""", "", bad, "is far beyond");
        yield return VM("tok-vocab-id-huge-sparse", """{"a":0,"b":500000000}""", "", bad, "is far beyond");
        yield return VM("tok-vocab-deeply-nested", new string('[', 1000) + new string(']', 1000), "", bad, "not valid JSON");
        yield return new("tok-vocab-not-utf8", new Dictionary<string, byte[]> { ["vocab.json"] = [.. U("{\"a"), 0xFF, .. U("\":0}")], ["merges.txt"] = [] }, bad, "not valid JSON");
        yield return VM("tok-merges-three-tokens", Vocab, "#version: 0.2\na b c\n", bad, "line 2: expected two tokens");
        yield return VM("tok-merges-double-space", Vocab, "a  b\n", bad, "line 1: expected two tokens");
        yield return VM("tok-merges-unknown-token", Vocab, "a z\n", bad, "uses the token \"z\"");
        yield return VM("tok-merges-result-not-in-vocab", """{"a":0,"b":1}""", "a b\n", bad, "uses the token \"ab\"");
        yield return new("tok-merges-not-utf8", new Dictionary<string, byte[]> { ["vocab.json"] = U(Vocab), ["merges.txt"] = [(byte)'a', (byte)' ', 0xFF] }, bad, "which is not in the vocabulary");
        yield return TJ("tok-json-not-object", "42", bad, "expected a JSON object at the top level");
        yield return TJ("tok-json-no-model", "{}", bad, "missing the \"model\" object");
        yield return TJ("tok-json-wordpiece", """{"model":{"type":"WordPiece","vocab":{}}}""", unsupported, "only byte-level BPE");
        yield return TJ("tok-json-no-pretokenizer", """{"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}""", unsupported, "has no pre_tokenizer");
        yield return TJ("tok-json-no-vocab", "{\"model\":{\"type\":\"BPE\",\"merges\":[]}," + Pre + "}", bad, "missing the \"model.vocab\" object");
        yield return TJ("tok-json-no-merges", "{\"model\":{\"type\":\"BPE\",\"vocab\":" + Vocab + "}," + Pre + "}", bad, "missing the \"model.merges\" array");
        yield return TJ("tok-json-merge-number", "{\"model\":{\"type\":\"BPE\",\"vocab\":" + Vocab + ",\"merges\":[7]}," + Pre + "}", bad, "model.merges[0]");
        yield return TJ("tok-json-added-token-bad", "{\"model\":{\"type\":\"BPE\",\"vocab\":" + Vocab + ",\"merges\":[\"a b\"]}," + Pre + ",\"added_tokens\":[{\"id\":-5,\"content\":\"x\"}]}", bad, "added_tokens[0]");
        yield return TJ("tok-json-added-token-id-int-max", "{\"model\":{\"type\":\"BPE\",\"vocab\":" + Vocab + ",\"merges\":[\"a b\"]}," + Pre + ",\"added_tokens\":[{\"id\":2147483647,\"content\":\"x\"}]}", bad, "is far beyond");
        yield return TJ("tok-json-dropout", "{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":" + Vocab + ",\"merges\":[]}," + Pre + "}", unsupported, "dropout");
    }
}
