using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MaMA.Kernels.Normalization;

namespace MaMA.Generators.Tests.Ptx;

/// <summary>
/// The hand-written warp-per-row kernels (explicitly grouped, so the generated-kernel sweep of
/// <see cref="PtxCompilationTests"/> does not see them) compile to sm_80 PTX and reduce across the
/// warp with shuffles: five butterfly shuffles per row sum or maximum (16, 8, 4, 2, 1 lanes apart).
/// </summary>
[TestFixture]
public sealed class WarpKernelPtxTests
{
    [TestCase(nameof(LayerNormWarp.ForwardKernel), 2)]        // mean, then the variance
    [TestCase(nameof(LayerNormWarp.BackwardInputKernel), 2)]  // mean of g and of g xhat
    public void LayerNormWarp_CompilesWithButterflyShuffles(string name, int sums) => CompilesWithButterflyShuffles(typeof(LayerNormWarp), name, sums);

    [Test]
    public void AttentionSoftmaxRowsWarp_CompilesWithButterflyShuffles() =>
        CompilesWithButterflyShuffles(typeof(MaMA.Kernels.Attention.AttentionScoresWarp), nameof(MaMA.Kernels.Attention.AttentionScoresWarp.SoftmaxRowsKernel), 2); // row maximum, then the sum

    private static void CompilesWithButterflyShuffles(Type host, string name, int reductions)
    {
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        var arch = CudaArchitecture.SM_80;
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_71, null);
        MethodInfo kernel = host.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
        string ptx = ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
        PtxDump.Keep(host.Name + "." + name, ptx);
        Assert.That(ptx, Does.Contain(".target sm_80"));
        int shuffles = System.Text.RegularExpressions.Regex.Matches(ptx, @"shfl\.sync\.bfly").Count;
        Assert.That(shuffles, Is.EqualTo(5 * reductions), "butterfly shuffles");
        Assert.That(ptx, Does.Not.Contain("bar.sync"), "warp-level only: no group barrier");
        PtxFloat64.AssertNone(ptx, host.Name + "." + name);
    }
}
