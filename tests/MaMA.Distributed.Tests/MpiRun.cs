using System.Diagnostics;
using System.Text.Json;

namespace MaMA.Distributed.Tests;

/// <summary>
/// Starts MaMA.MpiCheck under `mpirun -np N --oversubscribe` and returns rank 0's JSON report.
/// Without mpirun on PATH the test is ignored, or fails when MAMA_CI_MPI=1 (the MPI CI run installs it).
/// </summary>
internal static class MpiRun
{
    public static JsonElement Check(int ranks, string check, params string[] options)
    {
        string mpirun = MpirunPath();
        string host = Path.Combine(AppContext.BaseDirectory, "MaMA.MpiCheck.dll");
        Assert.That(File.Exists(host), $"{host} is missing (the test project references tests/MaMA.MpiCheck)");
        string report = Path.Combine(Path.GetTempPath(), $"mama-mpicheck-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        var start = new ProcessStartInfo(mpirun)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "--oversubscribe", "-np", ranks.ToString(), "dotnet", host, check, report }.Concat(options)) start.ArgumentList.Add(a);
        SetMpiEnvironment(start);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun -np {ranks} {check} did not finish in 4 minutes.\n{stdout.Result}\n{stderr.Result}");
        }
        try
        {
            Assert.That(process.ExitCode, Is.EqualTo(0), $"mpirun -np {ranks} {check} {string.Join(' ', options)} failed:\n{stdout.Result}\n{stderr.Result}");
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
