namespace MaMA.Data.Tests.Text.Fixtures;

/// <summary>
/// A hand-written byte-level BPE model, small enough to follow every merge by hand.
/// 'Ġ' (U+0120) is the byte-level spelling of the space. Ranks are the line order of the merges:
///
///  1 t h      2 th e     3 Ġ b      4 e a      5 r ea
///  6 Ġb rea   7 s t      8 Ġ i      9 Ġi s    10 Ġ d
/// 11 e n     12 Ġd en   13 s e     14 h e     15 a t
///
/// Worked examples (pre-tokens of the GPT-2 pattern, then lowest-rank pair first):
///   "the"    t h e -> th e (1) -> the (2)                                    = [13]
///   " breast" Ġ b r e a s t -> Ġb (3) -> ea (4) -> rea (5) -> Ġbrea (6) -> st (7) = [17, 18]
///   " is"    Ġ i s -> Ġi (8) -> Ġis (9)                                      = [20]
///   " dense" Ġ d e n s e -> Ġd (10) -> en (11) -> Ġden (12) -> se (13)       = [23, 24]
///   "."                                                                      = [0]
///   " he"    Ġ h e -> he (14)                                                = [11, 25]
///   " beat"  Ġ b e a t -> Ġb (3) -> ea (4); "ea t" is no merge              = [14, 15, 10]
///   " bat"   Ġ b a t -> Ġb (3) beats a t (15) -> at (15)                     = [14, 26]
///   "eat"    e a t -> ea (4) beats a t (15)                                  = [15, 10]
/// The vocabulary has 28 ids (0..27, &lt;|endoftext|&gt; = 27), so MaMA's tokens get 28..33.
/// </summary>
internal static class TinyBpeFixture
{
    public const int EndOfTextId = 27;
    public const int BaseSize = 28;

    public const string VocabJson = """
        {
          ".": 0, "a": 1, "b": 2, "d": 3, "e": 4, "h": 5, "i": 6, "n": 7, "r": 8, "s": 9, "t": 10, "\u0120": 11,
          "th": 12, "the": 13, "\u0120b": 14, "ea": 15, "rea": 16, "\u0120brea": 17, "st": 18,
          "\u0120i": 19, "\u0120is": 20, "\u0120d": 21, "en": 22, "\u0120den": 23, "se": 24, "he": 25, "at": 26,
          "<|endoftext|>": 27
        }
        """;

    public const string MergesTxt = """
        #version: 0.2
        t h
        th e
        Ġ b
        e a
        r ea
        Ġb rea
        s t
        Ġ i
        Ġi s
        Ġ d
        e n
        Ġd en
        s e
        h e
        a t

        """;

    /// <summary>The same model as a Hugging Face tokenizer.json (merges in the newer pair form).</summary>
    public const string TokenizerJson = """
        {
          "version": "1.0",
          "truncation": null,
          "padding": null,
          "added_tokens": [
            { "id": 27, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true }
          ],
          "normalizer": null,
          "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true },
          "post_processor": { "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true },
          "decoder": { "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true },
          "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": {
              ".": 0, "a": 1, "b": 2, "d": 3, "e": 4, "h": 5, "i": 6, "n": 7, "r": 8, "s": 9, "t": 10, "\u0120": 11,
              "th": 12, "the": 13, "\u0120b": 14, "ea": 15, "rea": 16, "\u0120brea": 17, "st": 18,
              "\u0120i": 19, "\u0120is": 20, "\u0120d": 21, "en": 22, "\u0120den": 23, "se": 24, "he": 25, "at": 26,
              "<|endoftext|>": 27
            },
            "merges": [
              ["t", "h"], ["th", "e"], ["\u0120", "b"], ["e", "a"], ["r", "ea"], ["\u0120b", "rea"], ["s", "t"],
              ["\u0120", "i"], ["\u0120i", "s"], ["\u0120", "d"], ["e", "n"], ["\u0120d", "en"], ["s", "e"],
              ["h", "e"], ["a", "t"]
            ]
          }
        }
        """;

    /// <summary>Writes the three files into <paramref name="directory"/>.</summary>
    public static void WriteTo(string directory, bool vocab = true, bool merges = true, bool tokenizerJson = false)
    {
        Directory.CreateDirectory(directory);
        if (vocab)
        {
            File.WriteAllText(Path.Combine(directory, "vocab.json"), VocabJson);
        }
        if (merges)
        {
            File.WriteAllText(Path.Combine(directory, "merges.txt"), MergesTxt);
        }
        if (tokenizerJson)
        {
            File.WriteAllText(Path.Combine(directory, "tokenizer.json"), TokenizerJson);
        }
    }
}

/// <summary>A temporary folder removed on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mama-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
