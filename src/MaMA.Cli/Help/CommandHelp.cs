namespace MaMA.Cli.Help;

/// <summary>
/// <c>mama COMMAND --help</c> (or <c>-h</c>, or <c>help</c> as the first argument after the command or
/// its action): finds the help text of a command or of a sub-action (<c>bench ops</c>,
/// <c>golden verify</c>) in <see cref="HelpTexts"/>. Checked before the command parses its options,
/// so help never fails on a missing or bad option.
/// </summary>
internal static class CommandHelp
{
    /// <summary>The help text for <paramref name="args"/> (command first) when they ask for help; else null.</summary>
    public static string? Requested(string[] args)
    {
        if (args.Length < 2) return null;
        string command = args[0];
        // A sub-action is the first argument when "COMMAND ARG" has its own text (bench ops, golden record).
        string key = HelpTexts.All.ContainsKey($"{command} {args[1]}") ? $"{command} {args[1]}" : command;
        int rest = key == command ? 1 : 2;
        bool asked = args.Skip(1).Any(a => a is "--help" or "-h") || (args.Length > rest && args[rest] == "help");
        if (!asked) return null;
        return HelpTexts.All.TryGetValue(key, out string? text) ? text : null;
    }
}
