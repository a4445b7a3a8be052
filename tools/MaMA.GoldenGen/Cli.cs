using System.Globalization;

namespace MaMA.GoldenGen;

/// <summary>A failure the tool reports as one line (no stack trace) before exiting with status 1.</summary>
internal sealed class GoldenGenException(string message) : Exception(message);

/// <summary>Command-line parsing and dispatch.</summary>
internal static class Cli
{
    public const string Usage = """
        usage: dotnet run --project tools/MaMA.GoldenGen -- ops [options]

        Computes every OpCatalog case with TorchSharp (forward and backward) and writes
        {out}/{case}.safetensors plus {out}/manifest.json.

        options:
          --out DIR         output folder (default: golden/ops under the repository root)
          --seed N          seed for inputs and upstream gradients (default: 1234)
          --only A,B,...    regenerate only these cases; the other manifest entries are kept
                            (the existing manifest must have the same seed and torch version)
          -h, --help        show this help
        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            (args.Length == 0 ? stderr : stdout).WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] != "ops")
        {
            stderr.WriteLine($"error: unknown command '{args[0]}' (the only command is 'ops')\n\n{Usage}");
            return 2;
        }

        string? outDir = null;
        int seed = 1234;
        List<string>? only = null;
        try
        {
            for (int i = 1; i < args.Length; i++)
            {
                string arg = args[i];
                string? inline = null;
                int eq = arg.IndexOf('=');
                if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
                {
                    inline = arg[(eq + 1)..];
                    arg = arg[..eq];
                }
                string Value()
                {
                    if (inline is not null) return inline;
                    if (i + 1 >= args.Length) throw new GoldenGenException($"{arg} needs a value");
                    return args[++i];
                }
                switch (arg)
                {
                    case "-h" or "--help":
                        stdout.WriteLine(Usage);
                        return 0;
                    case "--out":
                        outDir = Value();
                        break;
                    case "--seed":
                        string s = Value();
                        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out seed) || seed < 0 || seed == int.MaxValue)
                            throw new GoldenGenException($"--seed needs a non-negative 32-bit integer below {int.MaxValue}, got '{s}'");
                        break;
                    case "--only":
                        only ??= [];
                        only.AddRange(Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                        break;
                    default:
                        stderr.WriteLine($"error: unknown option '{args[i]}'\n\n{Usage}");
                        return 2;
                }
            }
            if (only is { Count: 0 }) throw new GoldenGenException("--only needs at least one case name");
        }
        catch (GoldenGenException e)
        {
            // A bad option or value is a usage mistake (exit 2), as in `mama`; failures of the generation itself exit 1.
            stderr.WriteLine($"error: {e.Message}\n\n{Usage}");
            return 2;
        }

        outDir = outDir is null ? Path.Combine(RepoRoot(), "golden", "ops") : Path.GetFullPath(outDir);
        return OpGoldens.Generate(outDir, seed, only, stdout, stderr);
    }

    /// <summary>The folder holding MaMA.Engine.sln, searched upwards from the working directory, then from the tool.</summary>
    private static string RepoRoot()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "MaMA.Engine.sln"))) return d.FullName;
        throw new GoldenGenException("cannot find the repository root (no MaMA.Engine.sln above the working directory); run from inside the repository or pass --out");
    }
}
