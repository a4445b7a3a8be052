using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MaMA.Kernels.Conversion;
using MaMA.Kernels.Elementwise;
using MaMA.Kernels.Layout;

namespace MaMA.Generators.Tests.Ptx;

/// <summary>
/// The kernels that take an <see cref="IndexMap"/> by value split positions with 32-bit unsigned
/// division, one per inner axis (five), and no 64-bit division or remainder: on a GPU a 64-bit
/// division is a long emulated sequence, and the earlier kernels ran one per axis and element. They
/// read no shape buffer either (the map is a kernel parameter).
/// </summary>
[TestFixture]
public sealed class IndexMapPtxTests
{
    public static IEnumerable<TestCaseData> Kernels() =>
        new (Type Host, string Name)[]
        {
            (typeof(Binary.Broadcast), "Binary.Broadcast"),
            (typeof(StridedCopy.Copy32), "StridedCopy.Copy32"),
            (typeof(StridedCopy.Scatter32), "StridedCopy.Scatter32"),
            (typeof(WindowCopy.Copy16), "WindowCopy.Copy16"),
            (typeof(Casts.StridedFloatToBFloat16), "Casts.StridedFloatToBFloat16"),
        }.Select(k => new TestCaseData(k.Host).SetName("IndexMap_" + k.Name));

    [TestCaseSource(nameof(Kernels))]
    public void SplitsPositionsWith32BitDivisionOnly(Type host)
    {
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        var arch = CudaArchitecture.SM_80;
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_71, null);
        MethodInfo entry = host.GetMethod("EntryKernel", BindingFlags.Public | BindingFlags.Static)!;
        string ptx = ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(entry), new KernelSpecialization())).PTXAssembly;
        Assert.That(Regex.Matches(ptx, @"\b(div|rem)\.[su]64\b").Count, Is.Zero, "64-bit division or remainder");
        Assert.That(Regex.Matches(ptx, @"\bdiv\.u32\b").Count, Is.EqualTo(IndexMap.MaxRank - 1), "one unsigned 32-bit division per inner axis");
    }
}
