using ILGPU.Runtime.Cuda;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.TensorCore;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// Which cards take the tensor-core kernels (<see cref="TensorCoreSupport"/>): their bf16 mma.sync,
/// cvt.rn.bf16x2 and cp.async need sm_80, so older CUDA cards (T4, V100) must be routed to the fp32
/// kernels instead of failing in the driver's JIT. Without a card only the rule and the simulator's
/// side can run here.
/// </summary>
[TestFixture]
public sealed class TensorCoreSupportTests
{
    [Test]
    public void Ampere_AndNewer_HaveTheInstructions_OlderCardsDoNot()
    {
        foreach (CudaArchitecture a in new[] { CudaArchitecture.SM_80, CudaArchitecture.SM_86, CudaArchitecture.SM_89, CudaArchitecture.SM_90,
                     CudaArchitecture.SM_100, CudaArchitecture.SM_120 })
            Assert.That(TensorCoreSupport.Supports(a), Is.True, a.ToString());
        foreach (CudaArchitecture a in new[] { CudaArchitecture.SM_75, CudaArchitecture.SM_72, CudaArchitecture.SM_70, CudaArchitecture.SM_61,
                     CudaArchitecture.SM_52, CudaArchitecture.SM_30 })
            Assert.That(TensorCoreSupport.Supports(a), Is.False, a.ToString());
        Assert.That(TensorCoreSupport.Supports(null), Is.False, "an architecture ILGPU does not know");
    }

    [Test]
    public void Describe_SaysWhichKernelsTheCardGets()
    {
        Assert.That(TensorCoreSupport.Describe(CudaArchitecture.SM_90), Is.EqualTo("bf16 tensor cores (mma.sync, sm_90)"));
        Assert.That(TensorCoreSupport.Describe(CudaArchitecture.SM_75),
            Is.EqualTo("no bf16 tensor-core kernels (sm_75; they need sm_80, Ampere, or newer): bf16 work runs on the fp32 kernels"));
    }

    [Test]
    public void TheSimulator_RunsThem_TheFastCpuBackendDoesNot()
    {
        var sim = (IlgpuDevice)Device.Parse("ilgpu-cpu");
        Assert.That(TensorCoreSupport.Available(sim.Accelerator), Is.True);
        Assert.That(sim.TensorCores, Is.Null, "only CUDA cards carry the note");
        Assert.That(MaMA.Engine.Ops.UsesTensorCores(sim, DType.BFloat16, DType.BFloat16), Is.True);
        Assert.That(MaMA.Engine.Ops.UsesTensorCores(Device.Parse("cpu"), DType.BFloat16, DType.BFloat16), Is.False);
    }
}
