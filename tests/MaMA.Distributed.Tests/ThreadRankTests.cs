using System.Text.Json;

namespace MaMA.Distributed.Tests;

/// <summary>
/// The data-parallel checks with every rank a thread of one process (ThreadCommunicator,
/// `--launcher threads`): no MPI needed, so they run in the default test run.
/// </summary>
[NonParallelizable]
public sealed class ThreadRankTests : DataParallelChecks
{
    protected override JsonElement Check(int ranks, string check, params string[] options)
    {
        JsonElement report = CheckRun.Threads(ranks, check, options);
        Assert.That(report.GetProperty("communicator").GetString(), Is.EqualTo($"thread rank 0/{ranks}"));
        return report;
    }
}
