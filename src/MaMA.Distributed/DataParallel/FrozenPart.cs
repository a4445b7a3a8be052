using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// The state-dict tensors that never change during a run and that every rank builds itself from the
/// same files or seed (for MaMA the frozen BioMedLM base, ~11 GB in fp32 at the paper's size).
/// <see cref="ParameterSync"/> neither broadcasts nor re-hashes them: it compares <see cref="Digest"/>,
/// a 64-bit digest each rank computed once when it built them, and only when the digests differ
/// hashes the tensors one by one to name the one that differs.
/// </summary>
public sealed class FrozenPart
{
    private FrozenPart(IReadOnlySet<string> names, long digest)
    {
        Names = names;
        Digest = digest;
    }

    /// <summary>Nothing frozen: every state-dict tensor is broadcast and hashed.</summary>
    public static FrozenPart None { get; } = new(new HashSet<string>(StringComparer.Ordinal), 0);

    /// <summary>State-dict names of the frozen tensors.</summary>
    public IReadOnlySet<string> Names { get; }

    /// <summary>This rank's 64-bit digest of the frozen tensors (names, dtypes, shapes, bytes), computed once.</summary>
    public long Digest { get; }

    /// <summary>Hashes the tensors <paramref name="names"/> of <paramref name="model"/> now (one pass over them).</summary>
    public static FrozenPart Of(Module model, IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(model);
        var set = names.ToHashSet(StringComparer.Ordinal);
        var state = model.StateDict();
        var missing = set.Where(n => !state.ContainsKey(n)).ToList();
        if (missing.Count > 0) throw new ArgumentException($"not in the state dict: {string.Join(", ", missing.Take(5))}", nameof(names));
        return new FrozenPart(set, Combine(state.Where(kv => set.Contains(kv.Key)).Select(kv => ParameterSync.Hash(kv.Key, kv.Value))));
    }

    /// <summary>
    /// Uses a digest computed elsewhere, e.g. the SHA-256 (hex) that a training checkpoint records for
    /// its frozen base (<c>FrozenBase.Sha256</c>), cut to its first 64 bits: no second pass over the tensors.
    /// </summary>
    public static FrozenPart FromSha256(IEnumerable<string> names, string sha256Hex)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentException.ThrowIfNullOrEmpty(sha256Hex);
        byte[] bytes = Convert.FromHexString(sha256Hex);
        if (bytes.Length < 8) throw new ArgumentException("a digest of at least 64 bits is needed", nameof(sha256Hex));
        return new FrozenPart(names.ToHashSet(StringComparer.Ordinal), BitConverter.ToInt64(bytes, 0));
    }

    internal static long Combine(IEnumerable<long> checksums)
    {
        ulong h = 14695981039346656037UL;
        foreach (long c in checksums) h = (h ^ (ulong)c) * 1099511628211UL;
        return (long)h;
    }
}
