using System.Reflection;
using System.Text.RegularExpressions;
using MaMA.Cli.Help;

namespace MaMA.Engine.Tests.Cli;

/// <summary>
/// `mama COMMAND --help`: every command of the table and every sub-action has a help text, printed to
/// stdout with exit 0 for --help, -h and help before any option is checked; each option a command
/// accepts (the "Known: ..." list of its unknown-option error) is named in its text; `mama --help`
/// lists every command and points to `mama COMMAND --help`.
/// </summary>
[TestFixture]
public sealed class HelpTests
{
    private static readonly string[] SubActions = ["bench ops", "bench model", "bench train", "bench load", "golden record", "golden verify"];

    /// <summary>Arguments that take each command path to its RejectUnknown (the ones required before it).</summary>
    private static readonly Dictionary<string, string[]> ToRejectUnknown = new()
    {
        ["op"] = ["op", "attention", "--in", "in.safetensors", "--out", "out.safetensors"],
        ["forward"] = ["forward", "--model", "model", "--in", "in.safetensors", "--out", "out.safetensors"],
    };

    private static string[] CommandNames()
    {
        FieldInfo field = typeof(MaMA.Cli.Cli).GetField("Commands", BindingFlags.NonPublic | BindingFlags.Static)!;
        var table = (Array)field.GetValue(null)!;
        return table.Cast<object>().Select(entry => (string)entry.GetType().GetField("Item1")!.GetValue(entry)!).ToArray();
    }

    /// <summary>Every command of the table, then every sub-action.</summary>
    private static IEnumerable<string> AllPaths() => CommandNames().Concat(SubActions);

    /// <summary>Paths whose options are parsed by one RejectUnknown (not the action dispatchers bench and golden).</summary>
    private static IEnumerable<string> OptionPaths() => AllPaths().Where(p => p is not ("bench" or "golden"));

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliCapture.Run(args);

    [Test]
    public void EveryCommandAndSubActionHasHelp()
    {
        Assert.That(CommandNames(), Has.Length.GreaterThanOrEqualTo(17));
        foreach (string path in AllPaths())
        {
            Assert.That(HelpTexts.All.ContainsKey(path), Is.True, $"no help text for '{path}'");
            Assert.That(HelpTexts.All[path], Does.StartWith($"usage: mama {path}"), path);
        }
        Assert.That(HelpTexts.All.Keys, Is.EquivalentTo(AllPaths()), "a help text for a command that does not exist");
    }

    [TestCaseSource(nameof(AllPaths))]
    public void HelpFlagsPrintTheTextAndExitZero(string path)
    {
        string[] words = path.Split(' ');
        foreach (string flag in new[] { "--help", "-h", "help" })
        {
            (int code, string stdout, string stderr) = Run([.. words, flag]);
            Assert.That(code, Is.EqualTo(0), $"mama {path} {flag}: {stderr}");
            Assert.That(stdout, Does.StartWith($"usage: mama {path}"), $"mama {path} {flag}");
            Assert.That(stdout.TrimEnd(), Is.EqualTo(HelpTexts.All[path]), $"mama {path} {flag}");
            Assert.That(stderr, Is.Empty, $"mama {path} {flag}");
        }
    }

    [Test]
    public void HelpComesBeforeOptionValidation()
    {
        (int code, string stdout, _) = Run("demo", "--steps", "x", "--no-such-option", "--help");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(stdout, Does.StartWith("usage: mama demo"));
        (code, stdout, _) = Run("golden", "verify", "--model", "nowhere", "-h");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(stdout, Does.StartWith("usage: mama golden verify"));
        (code, stdout, _) = Run("op", "no_such_op", "--help");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(stdout, Does.StartWith("usage: mama op"));
    }

    [TestCaseSource(nameof(OptionPaths))]
    public void EveryAcceptedOptionIsInTheHelp(string path)
    {
        string[] args = ToRejectUnknown.TryGetValue(path, out string[]? given) ? given : path.Split(' ');
        (int code, _, string stderr) = Run([.. args, "--zz-not-an-option"]);
        Assert.That(code, Is.EqualTo(2), stderr);
        if (path == "devices")
        {
            Assert.That(stderr, Does.EndWith("Unknown option: --zz-not-an-option. This command takes no options." + Environment.NewLine));
            return;
        }
        Match known = Regex.Match(stderr, @"Unknown option: --zz-not-an-option\. Known: (.*)\.\s*$");
        Assert.That(known.Success, Is.True, $"mama {path}: {stderr}");
        string[] options = known.Groups[1].Value.Split(", ", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(options, Is.Not.Empty, path);
        foreach (string option in options)
            Assert.That(Regex.IsMatch(HelpTexts.All[path], $@"(?<![\w-]){Regex.Escape(option)}(?![\w-])"), Is.True,
                $"mama {path}: {option} is accepted but not in its help");
    }

    /// <summary>Paths whose README row shows the usage of their help (finetune's row points to probe's options).</summary>
    private static IEnumerable<string> ReadmePaths() => AllPaths().Where(p => p is not ("bench" or "golden" or "finetune"));

    [TestCaseSource(nameof(ReadmePaths))]
    public void ReadmeRowShowsTheUsageOfTheHelp(string path)
    {
        // The command tables write "|" as "\|" (a table cell); the help's usage, continuation lines joined.
        string usage = "`" + HelpTexts.Usage(path)["usage: ".Length..].Replace("|", "\\|") + "`";
        string[] rows = File.ReadAllLines(Path.Combine(MaMA.Engine.Tests.Golden.GoldenFiles.RepoRoot(), "README.md")).Where(l => l.StartsWith("| `mama ", StringComparison.Ordinal)).ToArray();
        Assert.That(rows.Any(r => r.Contains(usage, StringComparison.Ordinal)), Is.True, $"README.md has no row with {usage}");
    }

    [Test]
    public void TrainingDocListsEveryPretrainOption()
    {
        string row = File.ReadAllLines(Path.Combine(MaMA.Engine.Tests.Golden.GoldenFiles.RepoRoot(), "docs", "training.md")).Single(l => l.StartsWith("| `pretrain` |", StringComparison.Ordinal));
        (_, _, string stderr) = Run("pretrain", "--zz-not-an-option");
        string[] options = Regex.Match(stderr, @"Known: (.*)\.\s*$").Groups[1].Value.Split(", ", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(options, Does.Contain("--ranks"));
        foreach (string option in options) Assert.That(row, Does.Contain($"`{option}"), option);
        Assert.That(row, Does.Contain("`--device auto\\|cuda\\|cuda:K\\|opencl\\|cpu\\|ilgpu-cpu`"));
        Assert.That(row, Does.Contain("`--launcher none\\|mpi\\|threads`"));
    }

    [Test]
    public void MainHelpListsEveryCommandAndPointsToCommandHelp()
    {
        (int code, string stdout, _) = Run("--help");
        Assert.That(code, Is.EqualTo(0));
        foreach (string name in CommandNames())
            Assert.That(stdout, Does.Match($@"(?m)^  {Regex.Escape(name)} "), name);
        Assert.That(stdout, Does.Contain("mama COMMAND --help"));
    }
}
