namespace MaMA.Distributed.Tests;

/// <summary>
/// The pretrain CLI checks with `mpirun -np N mama pretrain ... --launcher mpi`. Category MPI:
/// selected by `MAMA_CI_MPI=1 bash .ci/run`, which installs Open MPI first.
/// </summary>
[Category("MPI")]
public sealed class MpiPretrainCliTests : PretrainCliChecks
{
    protected override string Launcher => "mpi";

    protected override void RequireLauncher() => CheckRun.MpirunPath(); // ignored (or failed under MAMA_CI_MPI=1) without Open MPI

    private protected override CliRun.Result Ranks(int ranks, params string[] args) => CliRun.Mama(ranks, [.. args, "--launcher", "mpi"]);
}
