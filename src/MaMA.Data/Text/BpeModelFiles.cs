using System.Text.Json;

namespace MaMA.Data.Text;

/// <summary>
/// A byte-level BPE model as read from Hugging Face files: the vocabulary (token -> id, tokens in
/// the <see cref="ByteLevelAlphabet"/>), the merges in rank order ("left right"), and the added
/// tokens that are matched as whole tokens in text (id order as written).
/// </summary>
internal sealed class BpeModelData
{
    public required Dictionary<string, int> Vocabulary { get; init; }
    public required List<string> Merges { get; init; }
    public required List<KeyValuePair<string, int>> AddedTokens { get; init; }
    public required string Source { get; init; }
}

/// <summary>
/// Readers for <c>vocab.json</c> + <c>merges.txt</c> (+ optional <c>added_tokens.json</c>) and for
/// <c>tokenizer.json</c>. Every error names the file (and the line or entry where that helps).
/// </summary>
internal static class BpeModelFiles
{
    public const string VocabFileName = "vocab.json";
    public const string MergesFileName = "merges.txt";
    public const string TokenizerJsonFileName = "tokenizer.json";
    public const string AddedTokensFileName = "added_tokens.json";

    /// <summary>
    /// Largest token id accepted (2^24 - 1; real vocabularies stay under 300k). The vocabulary size is
    /// max id + 1 and sizes the embedding, so a sparse id near int.MaxValue in a damaged or hostile
    /// file would overflow it or ask for a billion-row embedding.
    /// </summary>
    public const int MaxTokenId = (1 << 24) - 1;

    public static BpeModelData ReadVocabAndMerges(string vocabPath, string mergesPath, string? addedTokensPath)
    {
        Dictionary<string, int> vocab = ReadVocabJson(vocabPath);
        List<string> merges = ReadMergesTxt(mergesPath, vocab);
        var added = new List<KeyValuePair<string, int>>();
        if (addedTokensPath is not null && File.Exists(addedTokensPath))
        {
            added = ReadAddedTokensJson(addedTokensPath);
        }
        return new BpeModelData
        {
            Vocabulary = vocab,
            Merges = merges,
            AddedTokens = added,
            Source = $"{Path.GetFullPath(vocabPath)} + {Path.GetFullPath(mergesPath)}",
        };
    }

    public static Dictionary<string, int> ReadVocabJson(string path)
    {
        using JsonDocument doc = ParseJsonFile(path, "vocabulary");
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException(
                $"Malformed vocabulary file '{path}': expected a JSON object mapping token strings to integer ids, found {doc.RootElement.ValueKind}.");
        }
        return ReadVocabObject(doc.RootElement, path, "");
    }

    public static List<string> ReadMergesTxt(string path, IReadOnlyDictionary<string, int> vocab)
    {
        RequireFile(path, "merges");
        var merges = new List<string>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith("#version", StringComparison.Ordinal))
            {
                continue;
            }
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new InvalidDataException(
                    $"Malformed merges file '{path}', line {lineNumber}: expected two tokens separated by one space, found \"{line}\".");
            }
            CheckMerge(parts[0], parts[1], vocab, $"Merges file '{path}', line {lineNumber}");
            merges.Add(line);
        }
        return merges;
    }

    public static List<KeyValuePair<string, int>> ReadAddedTokensJson(string path)
    {
        using JsonDocument doc = ParseJsonFile(path, "added tokens");
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException(
                $"Malformed added tokens file '{path}': expected a JSON object mapping token strings to integer ids.");
        }
        return [.. ReadVocabObject(doc.RootElement, path, "").OrderBy(kv => kv.Value)];
    }

    public static BpeModelData ReadTokenizerJson(string path)
    {
        using JsonDocument doc = ParseJsonFile(path, "tokenizer");
        JsonElement root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Malformed tokenizer file '{path}': expected a JSON object at the top level.");
        }
        if (!root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Malformed tokenizer file '{path}': missing the \"model\" object.");
        }
        if (model.TryGetProperty("type", out JsonElement type) && type.ValueKind == JsonValueKind.String && type.GetString() != "BPE")
        {
            throw new NotSupportedException(
                $"Tokenizer file '{path}' has model.type \"{type.GetString()}\"; only byte-level BPE (GPT-2 style) is supported.");
        }
        RequireNullOrEmptyString(model, "continuing_subword_prefix", path);
        RequireNullOrEmptyString(model, "end_of_word_suffix", path);
        RequireNotTrue(model, "byte_fallback", path);
        RequireNotTrue(model, "ignore_merges", path);
        if (model.TryGetProperty("dropout", out JsonElement dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() != 0)
        {
            throw new NotSupportedException($"Tokenizer file '{path}' sets model.dropout; BPE dropout is not supported.");
        }
        if (root.TryGetProperty("normalizer", out JsonElement normalizer) && normalizer.ValueKind != JsonValueKind.Null)
        {
            throw new NotSupportedException(
                $"Tokenizer file '{path}' has a normalizer; GPT-2 style byte-level BPE uses none and normalizers are not supported.");
        }
        CheckByteLevelPreTokenizer(root, path);

        if (!model.TryGetProperty("vocab", out JsonElement vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Malformed tokenizer file '{path}': missing the \"model.vocab\" object.");
        }
        Dictionary<string, int> vocab = ReadVocabObject(vocabElement, path, "model.vocab");

        if (!model.TryGetProperty("merges", out JsonElement mergesElement) || mergesElement.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"Malformed tokenizer file '{path}': missing the \"model.merges\" array.");
        }
        var merges = new List<string>();
        int index = 0;
        foreach (JsonElement merge in mergesElement.EnumerateArray())
        {
            string left, right;
            if (merge.ValueKind == JsonValueKind.String)
            {
                string[] parts = merge.GetString()!.Split(' ');
                if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                {
                    throw new InvalidDataException(
                        $"Malformed tokenizer file '{path}', model.merges[{index}]: expected \"left right\", found \"{merge.GetString()}\".");
                }
                (left, right) = (parts[0], parts[1]);
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                (left, right) = (merge[0].GetString()!, merge[1].GetString()!);
                if (left.Length == 0 || right.Length == 0 || left.Contains(' ') || right.Contains(' '))
                {
                    throw new NotSupportedException(
                        $"Tokenizer file '{path}', model.merges[{index}]: empty tokens or tokens containing spaces are not supported in byte-level BPE.");
                }
            }
            else
            {
                throw new InvalidDataException(
                    $"Malformed tokenizer file '{path}', model.merges[{index}]: expected a string \"left right\" or a pair [\"left\", \"right\"].");
            }
            CheckMerge(left, right, vocab, $"Tokenizer file '{path}', model.merges[{index}]");
            merges.Add(left + " " + right);
            index++;
        }

        var added = new List<KeyValuePair<string, int>>();
        if (root.TryGetProperty("added_tokens", out JsonElement addedElement) && addedElement.ValueKind != JsonValueKind.Null)
        {
            if (addedElement.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"Malformed tokenizer file '{path}': \"added_tokens\" must be an array.");
            }
            int i = 0;
            foreach (JsonElement token in addedElement.EnumerateArray())
            {
                if (token.ValueKind != JsonValueKind.Object
                    || !token.TryGetProperty("id", out JsonElement idElement) || !idElement.TryGetInt32(out int id) || id < 0
                    || !token.TryGetProperty("content", out JsonElement content) || content.ValueKind != JsonValueKind.String
                    || content.GetString()!.Length == 0)
                {
                    throw new InvalidDataException(
                        $"Malformed tokenizer file '{path}', added_tokens[{i}]: expected an object with a non-negative integer \"id\" and a non-empty string \"content\".");
                }
                if (id > MaxTokenId)
                {
                    throw new InvalidDataException(
                        $"Malformed tokenizer file '{path}', added_tokens[{i}]: the id {id} is far beyond any vocabulary (ids above {MaxTokenId} are refused).");
                }
                if (IsTrue(token, "lstrip") || IsTrue(token, "rstrip") || IsTrue(token, "single_word"))
                {
                    throw new NotSupportedException(
                        $"Tokenizer file '{path}', added_tokens[{i}] (\"{content.GetString()}\"): lstrip, rstrip and single_word are not supported.");
                }
                added.Add(new KeyValuePair<string, int>(content.GetString()!, id));
                i++;
            }
        }

        return new BpeModelData { Vocabulary = vocab, Merges = merges, AddedTokens = added, Source = Path.GetFullPath(path) };
    }

    private static Dictionary<string, int> ReadVocabObject(JsonElement element, string path, string where)
    {
        string location = where.Length == 0 ? "" : $", {where}";
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var tokenById = new Dictionary<int, string>();
        foreach (JsonProperty entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new InvalidDataException(
                    $"Malformed vocabulary in '{path}'{location}: the id of token \"{entry.Name}\" must be a non-negative integer, found {entry.Value.GetRawText()}.");
            }
            if (id > MaxTokenId)
            {
                throw new InvalidDataException(
                    $"Malformed vocabulary in '{path}'{location}: the id {id} of token \"{entry.Name}\" is far beyond any vocabulary (ids above {MaxTokenId} are refused).");
            }
            if (!vocab.TryAdd(entry.Name, id))
            {
                throw new InvalidDataException($"Malformed vocabulary in '{path}'{location}: token \"{entry.Name}\" appears twice.");
            }
            if (!tokenById.TryAdd(id, entry.Name))
            {
                throw new InvalidDataException(
                    $"Malformed vocabulary in '{path}'{location}: id {id} is given to both \"{tokenById[id]}\" and \"{entry.Name}\".");
            }
        }
        if (vocab.Count == 0)
        {
            throw new InvalidDataException($"Malformed vocabulary in '{path}'{location}: the vocabulary is empty.");
        }
        return vocab;
    }

    private static void CheckMerge(string left, string right, IReadOnlyDictionary<string, int> vocab, string where)
    {
        foreach (string token in (ReadOnlySpan<string>)[left, right, left + right])
        {
            if (!vocab.ContainsKey(token))
            {
                throw new InvalidDataException($"{where}: the merge \"{left} {right}\" uses the token \"{token}\", which is not in the vocabulary.");
            }
        }
    }

    private static void CheckByteLevelPreTokenizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out JsonElement pre) || pre.ValueKind != JsonValueKind.Object)
        {
            throw new NotSupportedException(
                $"Tokenizer file '{path}' has no pre_tokenizer; only GPT-2 style byte-level BPE (pre_tokenizer ByteLevel) is supported.");
        }
        JsonElement byteLevel = pre;
        if (TypeOf(pre) == "Sequence" && pre.TryGetProperty("pretokenizers", out JsonElement list)
            && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() == 1)
        {
            byteLevel = list[0];
        }
        if (TypeOf(byteLevel) != "ByteLevel")
        {
            throw new NotSupportedException(
                $"Tokenizer file '{path}' uses pre_tokenizer \"{TypeOf(pre)}\"; only GPT-2 style byte-level BPE (a single ByteLevel pre-tokenizer) is supported.");
        }
        if (IsTrue(byteLevel, "add_prefix_space"))
        {
            throw new NotSupportedException($"Tokenizer file '{path}': ByteLevel add_prefix_space=true is not supported (GPT-2 and BioMedLM use false).");
        }
        if (byteLevel.TryGetProperty("use_regex", out JsonElement useRegex) && useRegex.ValueKind == JsonValueKind.False)
        {
            throw new NotSupportedException($"Tokenizer file '{path}': ByteLevel use_regex=false is not supported.");
        }
    }

    private static string? TypeOf(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()
            : null;

    private static bool IsTrue(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.True;

    private static void RequireNotTrue(JsonElement model, string name, string path)
    {
        if (IsTrue(model, name))
        {
            throw new NotSupportedException($"Tokenizer file '{path}' sets model.{name}=true, which is not supported.");
        }
    }

    private static void RequireNullOrEmptyString(JsonElement model, string name, string path)
    {
        if (model.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0)
        {
            throw new NotSupportedException($"Tokenizer file '{path}' sets model.{name}, which byte-level BPE does not use.");
        }
    }

    private static void RequireFile(string path, string what)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The {what} file '{Path.GetFullPath(path)}' does not exist.", path);
        }
    }

    private static JsonDocument ParseJsonFile(string path, string what)
    {
        RequireFile(path, what);
        byte[] bytes = File.ReadAllBytes(path);
        // JsonDocument transcodes property names lazily and throws InvalidOperationException on
        // invalid UTF-8 only when a name is read; check the whole file up front instead.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw new InvalidDataException($"Malformed {what} file '{path}': not valid JSON (the bytes are not UTF-8).");
        }
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Malformed {what} file '{path}': not valid JSON ({e.Message}).", e);
        }
    }
}
