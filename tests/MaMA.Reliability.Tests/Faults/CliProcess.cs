using System.Diagnostics;
using System.Text;

namespace MaMA.Reliability.Tests.Faults;

/// <summary>
/// The real CLI in a child process: <c>bash -c 'LIMITS; exec dotnet mama.dll ARGS'</c>, so that
/// shell resource limits (ulimit -f, ulimit -v) and ignored signals apply to the CLI itself and the
/// process id is the CLI's (exec), which <see cref="KillHard"/> ends with SIGKILL. mama.dll is the
/// one built beside this test assembly (the project references src/MaMA.Cli).
/// </summary>
internal sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _gate = new();

    private CliProcess(Process process) => _process = process;

    public static string MamaDll
    {
        get
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "mama.dll");
            Assert.That(File.Exists(dll), $"{dll} is missing (tests/MaMA.Reliability.Tests references src/MaMA.Cli)");
            Assert.That(File.Exists(Path.Combine(AppContext.BaseDirectory, "mama.runtimeconfig.json")), "mama.runtimeconfig.json is missing beside mama.dll");
            return dll;
        }
    }

    public int Id => _process.Id;

    public string Stdout
    {
        get
        {
            lock (_gate) return _stdout.ToString();
        }
    }

    public string Stderr
    {
        get
        {
            lock (_gate) return _stderr.ToString();
        }
    }

    /// <summary>Starts <c>mama ARGS</c>; <paramref name="shellPrefix"/> runs in bash first (e.g. "ulimit -f 64").</summary>
    public static CliProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string shellPrefix = "")
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add((shellPrefix.Length > 0 ? shellPrefix + "; " : "") + "exec dotnet \"$0\" \"$@\"");
        start.ArgumentList.Add(MamaDll);
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (string name in new[] { FaultHooks.NanAtStep, FaultHooks.CheckpointPause }) start.Environment.Remove(name);
        if (environment is not null)
            foreach ((string k, string v) in environment) start.Environment[k] = v;
        var process = new Process { StartInfo = start };
        var cli = new CliProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (cli._gate) cli._stdout.AppendLine(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (cli._gate) cli._stderr.AppendLine(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs <c>mama ARGS</c> to its end (at most <paramref name="minutes"/>) and returns the exit code.</summary>
    public static (int Exit, CliProcess Process) Run(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string shellPrefix = "", double minutes = 5)
    {
        CliProcess p = Start(args, environment, shellPrefix);
        return (p.WaitForExit(minutes), p);
    }

    public bool HasExited => _process.HasExited;

    public int WaitForExit(double minutes = 5)
    {
        if (!_process.WaitForExit(TimeSpan.FromMinutes(minutes)))
        {
            KillHard();
            Assert.Fail($"mama did not finish in {minutes} minutes.\n{Describe()}");
        }
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails when the process ends first or after <paramref name="minutes"/>.</summary>
    public void WaitUntil(Func<bool> condition, string what, double minutes = 4)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                if (condition()) return;
                Assert.Fail($"mama exited ({_process.ExitCode}) before {what}.\n{Describe()}");
            }
            if (clock.Elapsed > TimeSpan.FromMinutes(minutes))
            {
                KillHard();
                Assert.Fail($"no {what} after {minutes} minutes.\n{Describe()}");
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>kill -9 (Process.Kill sends SIGKILL on Unix) and waits for the process to be gone.</summary>
    public void KillHard()
    {
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // already exited
        }
        _process.WaitForExit();
    }

    public string Describe() => $"--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";

    public void Dispose()
    {
        if (!_process.HasExited) KillHard();
        _process.Dispose();
    }
}

/// <summary>The environment variables of MaMA.Training.Guards.FaultInjection (documented test hooks).</summary>
internal static class FaultHooks
{
    public const string NanAtStep = MaMA.Training.Guards.FaultInjection.NanAtStepVariable;
    public const string CheckpointPause = MaMA.Training.Guards.FaultInjection.CheckpointPauseVariable;
}
