namespace MaMA.Distributed.Tests;

/// <summary>
/// The pretrain CLI checks with `mama pretrain ... --launcher threads --ranks N`: the ranks are
/// threads of one process on the CPU (the configs say "device": "cpu"), so they need no MPI and run
/// in the default test run. Plus the launcher's own usage errors.
/// </summary>
public sealed class ThreadPretrainCliTests : PretrainCliChecks
{
    protected override string Launcher => "threads";

    private protected override CliRun.Result Ranks(int ranks, params string[] args) =>
        CliRun.Mama(1, [.. args, "--launcher", "threads", "--ranks", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    [TestCase(new[] { "--ranks", "2" }, "--ranks needs --launcher threads")]
    [TestCase(new[] { "--launcher", "mpi", "--ranks", "2" }, "under MPI the number of ranks is mpirun's -np")]
    [TestCase(new[] { "--launcher", "threads" }, "--launcher threads needs --ranks N")]
    [TestCase(new[] { "--launcher", "threads", "--ranks", "0" }, "--launcher threads needs --ranks N")]
    [TestCase(new[] { "--launcher", "threads", "--ranks", "2", "--device", "ilgpu-cpu" }, "not on 'ilgpu-cpu'")]
    public void Thread_launcher_usage_errors(string[] options, string message)
    {
        CliRun.Result r = CliRun.Mama(1, ["pretrain", "--config", "missing-but-not-read.json", "--out", Path.Combine(Path.GetTempPath(), "mama-threads-usage"), .. options]);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.Stderr, Does.Contain(message), r.ToString());
    }
}
