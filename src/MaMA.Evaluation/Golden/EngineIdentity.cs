using System.Reflection;
using MaMA.Engine.Tensors;

namespace MaMA.Evaluation.Golden;

/// <summary>Which engine computed something: its version and, when it can be found, the git commit.</summary>
public static class EngineIdentity
{
    /// <summary>MaMA.Engine's informational version ("0.1.0", or "0.1.0+commit" when the build recorded one).</summary>
    public static string Version =>
        typeof(Tensor).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Tensor).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>
    /// The commit: the build's source revision when the version carries one (after '+'), else the
    /// HEAD of the git checkout that holds the running program or the current folder; null when
    /// neither is known (a published binary outside a checkout).
    /// </summary>
    public static string? GitCommit()
    {
        string version = Version;
        int plus = version.IndexOf('+');
        if (plus >= 0 && IsCommit(version[(plus + 1)..])) return version[(plus + 1)..];
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            if (FromCheckout(start) is { } commit) return commit;
        return null;
    }

    /// <summary>Reads HEAD (a detached hash, or a ref from a loose file or packed-refs) of the checkout above <paramref name="start"/>.</summary>
    internal static string? FromCheckout(string start)
    {
        try
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string git = Path.Combine(dir.FullName, ".git");
                if (File.Exists(git))
                {
                    // A worktree or submodule: ".git" is a file "gitdir: PATH".
                    string line = File.ReadAllText(git).Trim();
                    if (!line.StartsWith("gitdir:", StringComparison.Ordinal)) return null;
                    git = Path.GetFullPath(Path.Combine(dir.FullName, line[7..].Trim()));
                }
                if (!Directory.Exists(git)) continue;
                string head = File.ReadAllText(Path.Combine(git, "HEAD")).Trim();
                if (IsCommit(head)) return head;
                if (!head.StartsWith("ref:", StringComparison.Ordinal)) return null;
                string name = head[4..].Trim();
                string common = File.Exists(Path.Combine(git, "commondir"))
                    ? Path.GetFullPath(Path.Combine(git, File.ReadAllText(Path.Combine(git, "commondir")).Trim()))
                    : git;
                foreach (string root in new[] { git, common })
                {
                    string loose = Path.Combine(root, name);
                    if (File.Exists(loose) && File.ReadAllText(loose).Trim() is var hash && IsCommit(hash)) return hash;
                    string packed = Path.Combine(root, "packed-refs");
                    if (!File.Exists(packed)) continue;
                    foreach (string row in File.ReadLines(packed))
                        if (row.EndsWith(" " + name, StringComparison.Ordinal) && IsCommit(row[..40])) return row[..40];
                }
                return null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Unreadable checkout: the commit is simply unknown.
        }
        return null;
    }

    private static bool IsCommit(string text) => text.Length == 40 && text.All(char.IsAsciiHexDigit);
}
