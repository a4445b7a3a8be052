using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// Maps a checkpoint's tensors onto a model's state-dict names (<see cref="ArchKeyRules"/>) and
/// checks them: every model key must be found (missing keys are named), every source key must be
/// used, dropped on purpose or outside the selected part (unexpected keys are named), and shapes
/// must agree. A 2-D weight whose shape is the model's transposed (a Conv1D [in, out] checkpoint
/// for a Linear [out, in] slot, or the reverse) is transposed on read; square weights cannot be
/// told apart and are taken as they are.
/// </summary>
public static class KeyMapper
{
    /// <summary>The result: tensors under the model's names, and what was done to get there.</summary>
    public sealed record Mapping(Dictionary<string, TensorSource> Tensors, List<string> Notes);

    public static Mapping Map(ModelArch arch, IReadOnlyDictionary<string, TensorSource> source, IReadOnlyDictionary<string, int[]> model, string sourceName)
    {
        var rules = ArchKeyRules.For(arch);
        var notes = new List<string>();
        (IReadOnlyDictionary<string, TensorSource> selected, string? part) = SelectPart(rules, source);
        if (part is not null)
        {
            int others = source.Count - selected.Count;
            notes.Add($"imported the '{part}' part of the checkpoint{(others > 0 ? $"; {others} tensors of other parts ignored" : "")}");
        }

        var modelByCore = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string key in model.Keys)
            if (!modelByCore.TryAdd(rules.Core(key), key))
                throw new InvalidOperationException($"model keys '{modelByCore[rules.Core(key)]}' and '{key}' reduce to the same name; the key rules for {arch} need fixing.");

        var mapped = new Dictionary<string, TensorSource>(StringComparer.Ordinal);
        var from = new Dictionary<string, string>(StringComparer.Ordinal);
        var unexpected = new List<string>();
        var mismatched = new List<string>();
        var dropped = new Dictionary<string, int>(StringComparer.Ordinal);
        var transposed = new List<string>();
        foreach ((string key, TensorSource src) in selected)
        {
            string core = rules.Core(key);
            if (!modelByCore.TryGetValue(core, out string? target))
            {
                if (rules.DropReason(core) is { } why) dropped[why] = dropped.GetValueOrDefault(why) + 1;
                else unexpected.Add(key);
                continue;
            }
            if (from.TryGetValue(target, out string? earlier))
            {
                mismatched.Add($"{target}: given twice, as '{earlier}' and '{key}'");
                continue;
            }
            from[target] = key;
            int[] want = model[target];
            if (Shape.SameShape(src.Shape, want))
                mapped[target] = src;
            else if (src.Shape.Length == 2 && want.Length == 2 && src.Shape[0] == want[1] && src.Shape[1] == want[0])
            {
                mapped[target] = src.Map(src.DType, want, t => t.Transpose(0, 1).Contiguous());
                transposed.Add(target);
            }
            else
                mismatched.Add($"{key}: checkpoint {Shape.Format(src.Shape)} vs model '{target}' {Shape.Format(want)}");
        }
        var missing = model.Keys.Where(k => !mapped.ContainsKey(k) && !from.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0 || mismatched.Count > 0)
            throw new StateDictException($"{sourceName} as {arch.ToString().ToLowerInvariant()}", missing, unexpected.Order(StringComparer.Ordinal).ToList(), mismatched);
        foreach ((string why, int n) in dropped) notes.Add($"dropped {n} tensor{(n > 1 ? "s" : "")}: {why}");
        if (transposed.Count > 0)
            notes.Add($"transposed {transposed.Count} weight{(transposed.Count > 1 ? "s" : "")} stored in the other layout (e.g. {transposed[0]})");
        int renamed = from.Count(kv => kv.Key != kv.Value);
        if (renamed > 0) notes.Add($"renamed {renamed} keys (e.g. '{from.First(kv => kv.Key != kv.Value).Value}' -> '{from.First(kv => kv.Key != kv.Value).Key}')");
        return new Mapping(mapped, notes);
    }

    /// <summary>The source keys of this model's part, prefix removed (all keys when no part prefix occurs).</summary>
    public static (IReadOnlyDictionary<string, TensorSource> Keys, string? Part) SelectPart(ArchKeyRules rules, IReadOnlyDictionary<string, TensorSource> source)
    {
        foreach (string prefix in rules.PartPrefixes)
            if (source.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal)))
                return (source.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                              .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal), prefix.TrimEnd('.'));
        return (source, null);
    }
}
