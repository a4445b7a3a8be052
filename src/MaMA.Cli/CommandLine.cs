namespace MaMA.Cli;

/// <summary>
/// Minimal POSIX-style argument reader: <c>--name value</c>, <c>--name=value</c> and boolean
/// <c>--flag</c>. Unknown options are errors naming the option and listing the known ones.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public CommandLine(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                Positionals.Add(a);
                continue;
            }
            int eq = a.IndexOf('=');
            if (eq > 0)
                _values[a[2..eq]] = a[(eq + 1)..];
            else if (i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal))
                _values[a[2..]] = list[++i];
            else
                _values[a[2..]] = null;
        }
    }

    public List<string> Positionals { get; } = new();

    public bool Has(string name)
    {
        _used.Add(name);
        return _values.ContainsKey(name);
    }

    public string? Get(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out string? v) ? v : null;
    }

    public string Get(string name, string fallback) => Get(name) ?? fallback;

    public int GetInt(string name, int fallback)
    {
        string? v = Get(name);
        if (v is null) return fallback;
        return int.TryParse(v, out int r) ? r : throw new UsageException($"--{name} expects an integer, got '{v}'.");
    }

    public float GetFloat(string name, float fallback)
    {
        string? v = Get(name);
        if (v is null) return fallback;
        return float.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out float r) ? r : throw new UsageException($"--{name} expects a number, got '{v}'.");
    }

    /// <summary>Fails on options the command never asked about (typos).</summary>
    public void RejectUnknown()
    {
        string[] unknown = _values.Keys.Where(k => !_used.Contains(k)).ToArray();
        if (unknown.Length > 0)
            throw new UsageException($"Unknown option{(unknown.Length > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}. Known: {string.Join(", ", _used.Order().Select(u => "--" + u))}.");
    }
}

/// <summary>A mistake in how the command was called; printed without a stack trace, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
