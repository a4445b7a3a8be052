using System.Text.Json;

namespace MaMA.Distributed.Tests;

/// <summary>
/// The data-parallel checks with every rank a process under mpirun (MpiCommunicator). Category MPI:
/// selected by `MAMA_CI_MPI=1 bash .ci/run`, which installs Open MPI first.
/// </summary>
[Category("MPI")]
[NonParallelizable]
public sealed class MpiTests : DataParallelChecks
{
    protected override JsonElement Check(int ranks, string check, params string[] options) => CheckRun.Mpi(ranks, check, options);
}
