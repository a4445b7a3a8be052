namespace MaMA.Data.Splits;

/// <summary>
/// Class-balanced subsets (evaluation uses a class-balanced test subset): every class present gets
/// the same number of items, the smallest class count (or <c>perClass</c> when smaller), drawn
/// with a seeded shuffle per class. Items without a label (null) are left out.
/// </summary>
public static class BalancedSubset
{
    /// <summary>The positions in <paramref name="items"/> of the chosen subset, ascending.</summary>
    public static IReadOnlyList<int> SelectIndices<T>(IReadOnlyList<T> items, Func<T, int?> label, ulong seed, int? perClass = null)
    {
        var byClass = new SortedDictionary<int, List<int>>();
        for (int i = 0; i < items.Count; i++)
        {
            if (label(items[i]) is not int c) continue;
            if (!byClass.TryGetValue(c, out var list)) byClass[c] = list = new List<int>();
            list.Add(i);
        }
        if (byClass.Count == 0) return [];
        int take = byClass.Values.Min(l => l.Count);
        if (perClass is int cap) take = Math.Min(take, Math.Max(0, cap));
        var rng = new SeededRandom(seed);
        var chosen = new List<int>();
        foreach (List<int> members in byClass.Values)
        {
            rng.Shuffle(members);
            chosen.AddRange(members.Take(take));
        }
        chosen.Sort();
        return chosen;
    }

    /// <summary>The chosen items, in their original order.</summary>
    public static IReadOnlyList<T> Select<T>(IReadOnlyList<T> items, Func<T, int?> label, ulong seed, int? perClass = null) =>
        SelectIndices(items, label, seed, perClass).Select(i => items[i]).ToArray();
}
