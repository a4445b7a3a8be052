namespace MaMA.Cli;

/// <summary>
/// Minimal POSIX-style argument reader: <c>--name value</c>, <c>--name=value</c> and on/off
/// <c>--flag</c> (<see cref="Flag"/>). Unknown options are errors naming the option and listing the
/// known ones.
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

    /// <summary>
    /// An on/off option, the one rule for every flag of every command: absent is off; <c>--name</c>
    /// alone, <c>--name true</c> or <c>--name=true</c> is on; <c>--name false</c> is off; any other
    /// value is a usage error. The reader gives a flag the next word when that is not an option, so
    /// without this <c>--flag false</c> would silently mean on, and a word put after a flag by mistake
    /// would vanish.
    /// </summary>
    public bool Flag(string name)
    {
        if (!Has(name)) return false;
        return Get(name) switch
        {
            null or "true" => true,
            "false" => false,
            var v => throw new UsageException($"--{name} is an on/off flag: give it alone or as --{name} true|false, not '{v}' (a flag takes the next word as its value: put it last or before another option)."),
        };
    }

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
        if (unknown.Length == 0) return;
        string list = string.Join(", ", unknown.Select(u => "--" + u));
        // "Known: ." would read as a broken message; say instead that there are none.
        if (_used.Count == 0)
            throw new UsageException($"Unknown option{(unknown.Length > 1 ? "s" : "")}: {list}. This command takes no options.");
        throw new UsageException($"Unknown option{(unknown.Length > 1 ? "s" : "")}: {list}. Known: {string.Join(", ", _used.Order().Select(u => "--" + u))}.");
    }
}

/// <summary>A mistake in how the command was called; printed without a stack trace, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
