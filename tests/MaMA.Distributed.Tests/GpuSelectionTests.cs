using MaMA.Distributed.Communication;

namespace MaMA.Distributed.Tests;

/// <summary>The GPU each local rank sees (no MPI needed).</summary>
public sealed class GpuSelectionTests
{
    [TestCase(0, 1, null, null)]            // one rank per machine: leave CUDA alone
    [TestCase(1, 4, null, "1")]             // mpirun on a 4-GPU machine: local rank k -> GPU k
    [TestCase(2, 4, "4,5,6,7", "6")]        // Slurm --gpus-per-node lists the job's GPUs
    [TestCase(3, 2, "0,1", "1")]            // more ranks than GPUs: they share round robin
    [TestCase(1, 8, "5", null)]             // --gpus-per-task: the launcher already chose
    public void Local_rank_k_sees_the_kth_gpu(int localRank, int localSize, string? current, string? expected) =>
        Assert.That(GpuSelection.VisibleDevicesFor(localRank, localSize, current), Is.EqualTo(expected));
}
