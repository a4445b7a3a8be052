using System.Diagnostics;
using System.Text.Json;

namespace MaMA.Distributed.Tests;

/// <summary>
/// Starts MaMA.MpiCheck on N ranks and returns rank 0's JSON report: under `mpirun -np N
/// --oversubscribe` (<see cref="Mpi"/>; without mpirun on PATH the test is ignored, or fails when
/// MAMA_CI_MPI=1, as the MPI CI run installs it), or as one process of N rank threads (<see cref="Threads"/>).
/// </summary>
internal static class CheckRun
{
    public static JsonElement Mpi(int ranks, string check, params string[] options)
    {
        var start = new ProcessStartInfo(MpirunPath());
        foreach (string a in new[] { "--oversubscribe", "-np", ranks.ToString(), "dotnet" }) start.ArgumentList.Add(a);
        SetMpiEnvironment(start);
        return Run(start, $"mpirun -np {ranks}", check, options);
    }

    public static JsonElement Threads(int ranks, string check, params string[] options) =>
        Run(new ProcessStartInfo("dotnet"), $"{ranks} rank threads", check, [.. options, "--threads", ranks.ToString()]);

    private static JsonElement Run(ProcessStartInfo start, string how, string check, string[] options)
    {
        string host = Path.Combine(AppContext.BaseDirectory, "MaMA.MpiCheck.dll");
        Assert.That(File.Exists(host), $"{host} is missing (the test project references tests/MaMA.MpiCheck)");
        string report = Path.Combine(Path.GetTempPath(), $"mama-mpicheck-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        foreach (string a in new[] { host, check, report }.Concat(options)) start.ArgumentList.Add(a);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{how}: {check} did not finish in 4 minutes.\n{stdout.Result}\n{stderr.Result}");
        }
        try
        {
            Assert.That(process.ExitCode, Is.EqualTo(0), $"{how}: {check} {string.Join(' ', options)} failed:\n{stdout.Result}\n{stderr.Result}");
            Assert.That(File.Exists(report), $"rank 0 wrote no report:\n{stdout.Result}\n{stderr.Result}");
            TestContext.Out.WriteLine(File.ReadAllText(report));
            return JsonDocument.Parse(File.ReadAllText(report)).RootElement.Clone();
        }
        finally
        {
            File.Delete(report);
        }
    }

    /// <summary>mpirun on PATH; the test is ignored without it (fails when MAMA_CI_MPI=1).</summary>
    public static string MpirunPath() => Find("mpirun") ?? Missing();

    /// <summary>Open MPI settings for tests: allowed as root, no core binding, no busy polling.</summary>
    public static void SetMpiEnvironment(ProcessStartInfo start)
    {
        // CI runs as root; Open MPI refuses that unless told twice.
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        // Loaded 2-core CI machines: do not bind ranks to cores, and do not busy-poll while waiting.
        start.Environment["OMPI_MCA_hwloc_base_binding_policy"] = "none";
        start.Environment["OMPI_MCA_mpi_yield_when_idle"] = "1";
    }

    private static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string Missing()
    {
        const string message = "mpirun is not on PATH: install Open MPI (apt-get install -y openmpi-bin libopenmpi-dev; `MAMA_CI_MPI=1 bash .ci/run` does it).";
        if (Environment.GetEnvironmentVariable("MAMA_CI_MPI") == "1") Assert.Fail(message);
        Assert.Ignore(message);
        return "";
    }
}
