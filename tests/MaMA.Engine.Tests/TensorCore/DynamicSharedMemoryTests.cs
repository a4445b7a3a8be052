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
