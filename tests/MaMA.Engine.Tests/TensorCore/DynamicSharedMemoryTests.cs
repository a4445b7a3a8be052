using ILGPU;
using ILGPU.Runtime;
using MaMA.Engine.Devices;
using MaMA.Kernels.TensorCore;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The >48 KB dynamic shared memory opt-in, as far as it can be checked without a GPU: the
/// cuFuncSetAttribute arguments (attribute id, value, limit errors) and that CPU kernels are left
/// alone (the driver call itself only runs on CUDA).
/// </summary>
[TestFixture]
public sealed class DynamicSharedMemoryTests
{
    private const int H100OptIn = 227 * 1024;

    [Test]
    public void Arguments_AreTheDriverAttributeAndTheDynamicSize()
    {
        Assert.That(DynamicSharedMemory.Arguments(96 * 1024, 8 * 1024, H100OptIn), Is.EqualTo((8, 96 * 1024)));
        Assert.That(DynamicSharedMemory.Arguments(H100OptIn, 0, H100OptIn), Is.EqualTo((8, H100OptIn)));
    }

    [Test]
    public void AttentionKernelsFallBackWhereTheirSharedMemoryDoesNotFit()
    {
        // Forward 36,880 / 69,648 B (K and V double-buffered; Q in registers) and backward 64,528 /
        // 113,680 B for D = 64 / 128, against the opt-in limits of sm_86 / sm_89 cards (99 KB), the
        // A100 (163 KB) and the H100 (227 KB).
        const int Sm86OptIn = 99 * 1024, A100OptIn = 163 * 1024;
        Assert.That(TensorCoreAttention.SharedElements(64) * 2, Is.EqualTo(36_880));
        Assert.That(TensorCoreAttention.SharedElements(128) * 2, Is.EqualTo(69_648));
        Assert.That(TensorCoreAttentionBackward.SharedElements(64) * 2, Is.EqualTo(64_528));
        Assert.That(TensorCoreAttentionBackward.SharedElements(128) * 2, Is.EqualTo(113_680));
        Assert.That(TensorCoreAttention.FitsWithin(Sm86OptIn, 128), Is.True);
        Assert.That(TensorCoreAttentionBackward.FitsWithin(Sm86OptIn, 64), Is.True);
        Assert.That(TensorCoreAttentionBackward.FitsWithin(Sm86OptIn, 128), Is.False, "BioMedLM's D = 128 backward keeps the fp32 kernels there");
        Assert.That(TensorCoreAttentionBackward.FitsWithin(A100OptIn, 128), Is.True);
        Assert.That(TensorCoreAttentionBackward.FitsWithin(H100OptIn, 128), Is.True);
        // The simulator has no limit.
        Assert.That(TensorCoreAttentionBackward.Fits(((IlgpuDevice)MaMA.Engine.Devices.Device.Parse("ilgpu-cpu")).Accelerator, 128), Is.True);
    }

    [Test]
    public void Arguments_RejectSizesOverTheOptInLimit()
    {
        Assert.That(() => DynamicSharedMemory.Arguments(H100OptIn, 1, H100OptIn),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("opt-in limit of 232448 bytes"));
        Assert.That(() => DynamicSharedMemory.Arguments(-1, 0, H100OptIn), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => DynamicSharedMemory.Arguments(0, -1, H100OptIn), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [TestCase(48 * 1024, 0, false)]
    [TestCase(40 * 1024, 8 * 1024, false)]
    [TestCase(40 * 1024, 8 * 1024 + 1, true)]
    [TestCase(64 * 1024, 0, true)]
    public void NeedsOptIn_Above48KB(int dynamicBytes, int staticBytes, bool expected) =>
        Assert.That(DynamicSharedMemory.NeedsOptIn(dynamicBytes, staticBytes), Is.EqualTo(expected));

    private static void DynamicKernel(ArrayView<float> x)
    {
        ArrayView<float> shared = SharedMemory.GetDynamic<float>();
        shared[Group.IdxX] = Group.IdxX;
        Group.Barrier();
        x[Group.IdxX] = shared[Group.DimX - 1 - Group.IdxX];
    }

    [Test]
    public void Allow_IsANoOpOnTheCpuSimulator_AndLargeDynamicSharedMemoryRuns()
    {
        Accelerator sim = ((IlgpuDevice)Devices.Device.Parse("ilgpu-cpu")).Accelerator;
        var kernel = sim.LoadKernel<ArrayView<float>>(DynamicKernel);
        const int bytes = 64 * 1024;
        Assert.That(() => DynamicSharedMemory.Allow(kernel, bytes), Throws.Nothing);
        using var x = sim.Allocate1D<float>(16);
        kernel(sim.DefaultStream, new KernelConfig(1, 16, SharedMemoryConfig.RequestDynamic<float>(bytes / sizeof(float))), x.View);
        sim.Synchronize();
        Assert.That(x.GetAsArray1D(), Is.EqualTo(Enumerable.Range(0, 16).Select(i => 15f - i).ToArray()));
    }
}
