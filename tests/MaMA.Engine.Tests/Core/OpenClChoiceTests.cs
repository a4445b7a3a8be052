using ILGPU.Backends.OpenCL;
using MaMA.Engine.Devices;

namespace MaMA.Engine.Tests.Core;

/// <summary>
/// Which OpenCL device the engine takes (<see cref="OpenClChoice"/>): a GPU before a CPU runtime,
/// never a device ILGPU cannot drive, and <c>auto</c> never a CPU runtime (the fast CPU backend
/// beats it). The devices are described, since CI has no OpenCL runtime.
/// </summary>
[TestFixture]
public sealed class OpenClChoiceTests
{
    private static OpenClChoice.Candidate Gpu(string name, string? refusal = null) => new(name, IsGpu: true, refusal);

    private static OpenClChoice.Candidate Cpu(string name, string? refusal = null) => new(name, IsGpu: false, refusal);

    [Test]
    public void Pick_TakesTheFirstUsableGpu_BeforeACpuRuntime()
    {
        OpenClChoice.Candidate[] devices = [Cpu("pocl"), Gpu("old", "too old"), Gpu("arc"), Gpu("radeon")];
        Assert.That(OpenClChoice.Pick(devices), Is.EqualTo(2));
        Assert.That(OpenClChoice.AutoTakes(devices[2]), Is.True);
    }

    [Test]
    public void Pick_TakesACpuRuntime_OnlyWithoutAUsableGpu_AndAutoLeavesIt()
    {
        OpenClChoice.Candidate[] devices = [Gpu("old", "too old"), Cpu("pocl"), Cpu("intel")];
        Assert.That(OpenClChoice.Pick(devices), Is.EqualTo(1));
        Assert.That(OpenClChoice.AutoTakes(devices[1]), Is.False);
    }

    [Test]
    public void Pick_FindsNothing_WhenNoDeviceIsUsable()
    {
        Assert.That(OpenClChoice.Pick([Cpu("pocl 3.1", "no generic address space"), Gpu("old", "too old")]), Is.EqualTo(-1));
        Assert.That(OpenClChoice.Pick([]), Is.EqualTo(-1));
    }

    [Test]
    public void Refusal_FollowsIlgpusFloor()
    {
        // ILGPU's kernels use generic pointers: OpenCL C 2.0, or 3.0 with the optional generic address space.
        Assert.That(OpenClChoice.Refusal(CLCVersion.CL20, genericAddressSpace: true), Is.Null);
        Assert.That(OpenClChoice.Refusal(CLCVersion.CL30, genericAddressSpace: true), Is.Null);
        Assert.That(OpenClChoice.Refusal(CLCVersion.CL30, genericAddressSpace: false),
            Is.EqualTo("OpenCL C 3.0 without the generic address space; ILGPU needs OpenCL C 2.0, or 3.0 with it"));
        Assert.That(OpenClChoice.Refusal(CLCVersion.CL12, genericAddressSpace: false), Does.StartWith("OpenCL C 1.2 without"));
    }
}
