using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MaMA.Kernels.TensorCore;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The tensor-core attention kernel compiles to sm_80 PTX (ISA 7.1, what ILGPU 1.5.3 writes) in its
/// CUDA instantiation and uses what it claims: mma.sync m16n8k16 bf16 for Q K^T and P V, ldmatrix
/// (.x4 and .x4.trans) for the fragments, cp.async with commit/wait groups for the K/V tiles, the
/// dynamic shared allocation under the symbol the inline PTX names, and no emulation code.
/// </summary>
[TestFixture]
public sealed class TensorCoreAttentionPtxTests
{
    private static readonly Dictionary<int, string> s_ptx = new();

    /// <summary>The CUDA instantiation for head size <paramref name="d"/> (PtxMma, HeadDim64 / HeadDim128), as the launcher loads it.</summary>
    internal static string Ptx(int d = 64)
    {
        lock (s_ptx)
        {
            if (s_ptx.TryGetValue(d, out string? cached)) return cached;
            using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
            var arch = CudaArchitecture.SM_80;
            using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_71, null);
            MethodInfo kernel = typeof(TensorCoreAttention).GetMethod(nameof(TensorCoreAttention.FlashAttentionKernel))!
                .MakeGenericMethod(typeof(PtxMma), d == 64 ? typeof(HeadDim64) : typeof(HeadDim128));
            var description = EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
            return s_ptx[d] = ((PTXCompiledKernel)backend.Compile(description, new KernelSpecialization())).PTXAssembly;
        }
    }

    private static int Count(string text, string what) => Regex.Matches(text, Regex.Escape(what)).Count;

    [TestCase(64)]
    [TestCase(128)]
    public void Ptx_UsesMmaLdmatrixAndCpAsync(int d)
    {
        string ptx = Ptx(d);
        Assert.That(ptx, Does.Contain(".target sm_80"));
        // Unrolled over the constant D and row tiles R (2 at D = 64, 1 at D = 128): Q K^T is D/16 k16 steps
        // x 8 R mma (four ldmatrix.x4 of K each; Q's fragments come from global memory once, no ldmatrix);
        // P V is 4 key chunks x D/8 R mma (D/16 ldmatrix.x4.trans of V each). No D = 128 half at D = 64.
        // The key step is compiled into four loops (tiles without and with masking, each without and
        // with dropout), so every count is four key steps'.
        const int loops = 4;
        int r = TensorCoreAttention.RowTiles(d);
        Assert.That(r, Is.EqualTo(d == 64 ? 2 : 1));
        int mma = Count(ptx, "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32");
        Assert.That(mma, Is.EqualTo(loops * r * (d / 16 * 8 + 4 * d / 8)), $"{mma} mma.sync");
        Assert.That(Count(ptx, "ldmatrix.sync.aligned.m8n8.x4.shared.b16"), Is.EqualTo(loops * d / 16 * 4));
        Assert.That(Count(ptx, "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), Is.EqualTo(loops * 4 * d / 16));
        // P becomes the bf16 A operand of P V by packed roundings, one instruction per register pair:
        // 4 key chunks x 4 registers per row tile (the portable rounding is a NaN test, an add and a shift per element).
        Assert.That(Count(ptx, "cvt.rn.bf16x2.f32"), Is.EqualTo(loops * 16 * r), "packed bf16 roundings of P");
        // The softmax's exponentials: one ex2.approx.ftz per score and two per row for the rescale factors
        // (the final lse's exponentials are outside the loops).
        Assert.That(Count(ptx, "ex2.approx.ftz.f32"), Is.EqualTo(loops * r * (32 + 2)), "ex2.approx.ftz per key step");
        Assert.That(Count(ptx, "max.f32"), Is.GreaterThanOrEqualTo(loops * r * 18), "row maxima as max.f32");
        // Tile addressing divides by constants only: the grid's tile count and the head's batch index remain.
        Assert.That(Regex.Matches(ptx, @"\tdiv\.").Count, Is.LessThanOrEqualTo(2), "runtime divisions in the kernel");
        Assert.That(ptx, Does.Contain("cp.async.cg.shared.global"));
        Assert.That(ptx, Does.Contain("cp.async.commit_group;"));
        Assert.That(ptx, Does.Contain("cp.async.wait_group 0;"));
        Assert.That(ptx, Does.Contain("cp.async.wait_group 1;"));
    }

    [TestCase(64)]
    [TestCase(128)]
    public void Ptx_DeclaresTheDynamicSharedSymbol_AndNoEmulation(int d)
    {
        string ptx = Ptx(d);
        Assert.That(ptx, Does.Match(@"\.extern \.shared \.align \d+ \.b8 " + SharedTile.DynamicSharedSymbol + @"\[\];"));
        Assert.That(ptx, Does.Contain("mov.u32 \t%r").Or.Contain("mov.u32 %r"), "shared base read by inline PTX");
        Assert.That(ptx, Does.Not.Contain("bar.warp.sync"), "the CPU emulation leaked into the CUDA code");
        // No static shared memory on CUDA: everything is in the dynamic allocation (87 KB at D = 128).
        Assert.That(Regex.IsMatch(ptx, @"\.shared \.align \d+ \.b8 __shared_alloca"), Is.False);
    }

    [Test]
    public void SharedBudget_FitsTheDeviceLimits()
    {
        Assert.That(TensorCoreAttention.SharedElements(64) * sizeof(ushort), Is.LessThanOrEqualTo(48 * 1024), "D = 64 runs without the opt-in");
        Assert.That(TensorCoreAttention.SharedElements(128) * sizeof(ushort), Is.EqualTo(4 * 64 * 136 * 2 + 16), "K and V double-buffered; Q lives in registers");
        Assert.That(TensorCoreAttention.SharedElements(128) * sizeof(ushort), Is.LessThanOrEqualTo(99 * 1024), "two groups per SM on sm_80 / sm_90");
        Assert.That(DynamicSharedMemory.NeedsOptIn(TensorCoreAttention.SharedElements(128) * sizeof(ushort), 0), Is.True);
    }
}
