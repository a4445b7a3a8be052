using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using MaMA.Kernels.TensorCore;

namespace MaMA.Generators.Tests.Ptx;

/// <summary>
/// The hand-written tensor-core kernels (src/MaMA.Kernels/TensorCore, explicitly grouped, so the
/// reflection sweep of <see cref="PtxCompilationTests"/> does not see them) compile to sm_80 PTX
/// and really use the tensor cores: the PTX contains <c>mma.sync.aligned.m16n8k16</c> with bf16
/// operands and fp32 accumulators, and none of the CPU emulation (warp shuffles) survives.
/// </summary>
[TestFixture]
public sealed class TensorCorePtxTests
{
    private static readonly CudaArchitecture Architecture = CudaArchitecture.SM_80;

    private Context? _context;
    private PTXBackend? _backend;

    /// <summary>
    /// Every explicitly grouped kernel of the TensorCore folder (public static, name ends in Kernel),
    /// generic ones in their CUDA instantiations (<see cref="PtxMma"/>, and each head size for the
    /// attention kernels), as the launchers load them on CUDA.
    /// </summary>
    public static IEnumerable<TestCaseData> Kernels() =>
        typeof(TensorCoreGemm).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(TensorCoreGemm).Namespace)
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.Name.EndsWith("Kernel", StringComparison.Ordinal))
            .SelectMany(CudaInstantiations)
            .OrderBy(FileName, StringComparer.Ordinal)
            .Select(m => new TestCaseData(m).SetName("TensorCorePtx_" + FileName(m).Replace('.', '_')));

    /// <summary>The kernel as CUDA runs it: TMma = PtxMma, and one instantiation per head size where it takes one.</summary>
    private static IEnumerable<MethodInfo> CudaInstantiations(MethodInfo m)
    {
        if (!m.IsGenericMethodDefinition) return [m];
        return m.GetGenericArguments().Length == 1
            ? [m.MakeGenericMethod(typeof(PtxMma))]
            : [m.MakeGenericMethod(typeof(PtxMma), typeof(HeadDim64)), m.MakeGenericMethod(typeof(PtxMma), typeof(HeadDim128))];
    }

    /// <summary>Type.Method, with the head size for the attention kernels (TensorCoreAttention.FlashAttentionKernel.D64).</summary>
    private static string FileName(MethodInfo m)
    {
        Type[] args = m.IsGenericMethod ? m.GetGenericArguments() : [];
        string dim = args.Length > 1 ? ".D" + ((IHeadDim)Activator.CreateInstance(args[1])!).Value : "";
        return m.DeclaringType!.Name + "." + m.Name + dim;
    }

    [OneTimeSetUp]
    public void CreateBackend()
    {
        _context = Context.Create(builder => builder.Default().EnableAlgorithms());
        _backend = new PTXBackend(_context, new CudaCapabilityContext(Architecture), Architecture, CudaInstructionSet.ISA_71, null);
    }

    [OneTimeTearDown]
    public void DisposeBackend()
    {
        _backend?.Dispose();
        _context?.Dispose();
    }

    [Test]
    public void Kernels_AreFound() =>
        Assert.That(Kernels().Count(), Is.GreaterThanOrEqualTo(1));

    [TestCaseSource(nameof(Kernels))]
    public void Kernel_CompilesToPtx_WithTensorCoreMma(MethodInfo kernel)
    {
        string ptx = Compile(kernel);
        PtxDump.Keep(FileName(kernel), ptx, promoted: true);
        Assert.That(ptx, Does.Contain(".target sm_80"));
        Assert.That(ptx, Does.Contain("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), "no tensor-core instruction in the PTX");
        Assert.That(ptx, Does.Not.Contain("bar.warp.sync"), "the CPU emulation leaked into the CUDA code");
        PtxFloat64.AssertNone(ptx, FileName(kernel));
    }

    /// <summary>
    /// What CUDA loads (CudaKernelLoader): every one-value local slot ILGPU made for the inline-PTX
    /// arguments is a register, so no local memory is left (ptxas reported 4856 and 896-byte stack
    /// frames for the raw PTX on an H200) and the instructions are the same.
    /// </summary>
    [TestCaseSource(nameof(Kernels))]
    public void Kernel_PromotedPtx_HasNoLocalMemory(MethodInfo kernel)
    {
        string ptx = Compile(kernel);
        int depots = CountOf(ptx, ".local .align");
        Assert.That(depots, Is.GreaterThan(0), "ILGPU no longer makes local slots: this rewrite may be unnecessary");
        PtxLocalSlots.Result promoted = PtxLocalSlots.Promote(ptx);
        Assert.That((promoted.Promoted, promoted.Kept), Is.EqualTo((depots, 0)));
        Assert.That(promoted.Ptx, Does.Not.Contain(".local"));
        Assert.That(promoted.Ptx, Does.Not.Contain("__local_depot"));
        foreach (string instruction in new[] { "mma.sync.aligned.m16n8k16", "ldmatrix.sync", "cp.async", "bar.sync", "st.global", "ld.global", "st.shared", "ld.shared" })
            Assert.That(CountOf(promoted.Ptx, instruction), Is.EqualTo(CountOf(ptx, instruction)), instruction);
        // every load and store of a slot became exactly one mov
        int slotAccesses = CountOf(ptx, "ld.local.") + CountOf(ptx, "st.local.");
        Assert.That(CountOf(promoted.Ptx, "\tmov.") - CountOf(ptx, "\tmov."), Is.EqualTo(slotAccesses - depots));
    }

    /// <summary>
    /// The GEMM's k loop, once per pair of operand layouts (k-contiguous or not for A and for B) and
    /// again for both operands by cp.async:
    /// 2 k16 steps x 16 mma, each step's fragments by 4 ldmatrix.x4 (A) and 2 (B pairs), .trans for
    /// an m- or n-contiguous tile; tiles by cp.async where the launcher allows it; a ring of 2 to 4
    /// stages in the dynamic allocation (the wait for a tile leaves stages - 2 groups in flight, one
    /// barrier per k tile), 40 KB at 2 stages, under the 48 KB that needs no opt-in.
    /// </summary>
    [Test]
    public void GemmKernel_FourLayoutLoops_OfLdmatrixAndMma_WithCpAsync()
    {
        string ptx = Compile(typeof(TensorCoreGemm).GetMethod(nameof(TensorCoreGemm.GemmKernel))!.MakeGenericMethod(typeof(PtxMma)));
        // Four layout pairs, each compiled for both operands by cp.async and for any other mix.
        const int loops = 8, steps = 2;
        Assert.That(CountOf(ptx, "mma.sync.aligned.m16n8k16"), Is.EqualTo(loops * steps * 16));
        // Non-transposed: A in the loops with k-contiguous A (4 per step), B in those with k-contiguous B (2 per step).
        Assert.That(CountOf(ptx, "ldmatrix.sync.aligned.m8n8.x4.shared.b16"), Is.EqualTo(2 * steps * (2 * 4 + 2 * 2)));
        Assert.That(CountOf(ptx, "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), Is.EqualTo(2 * steps * (2 * 4 + 2 * 2)));
        Assert.That(ptx, Does.Contain("cp.async.cg.shared.global"));
        // Each loop waits with the stage count's immediate: 0, 1 or 2 groups left in flight.
        for (int pending = 0; pending <= 2; pending++)
            Assert.That(CountOf(ptx, $"cp.async.wait_group {pending};"), Is.EqualTo(loops), $"wait_group {pending}");
        Assert.That(CountOf(ptx, "cp.async.commit_group;"), Is.EqualTo(loops + 1), "one commit per k tile, and the prologue's");
        Assert.That(CountOf(ptx, "bar.sync"), Is.EqualTo(loops), "one barrier per k tile");
        Assert.That(ptx, Does.Contain(SharedTile.DynamicSharedSymbol));
        Assert.That(System.Text.RegularExpressions.Regex.IsMatch(ptx, @"\.shared \.align \d+ \.b8 __shared_alloca"), Is.False, "no static shared memory on CUDA");
        Assert.That(TensorCoreGemm.SharedElements(TensorCoreGemm.MinStages) * sizeof(ushort), Is.LessThanOrEqualTo(48 * 1024));
        Assert.That(TensorCoreGemm.SharedElements(TensorCoreGemm.MaxStages) * sizeof(ushort), Is.EqualTo(4 * 20_480 + 16));
        Assert.That(TensorCoreGemm.SlotElements, Is.GreaterThanOrEqualTo(TensorCoreGemm.BlockK * TensorCoreGemm.MnPitch), "a slot holds either layout");
    }

    [Test]
    public void EmulatedInstantiation_CompilesWithoutMma()
    {
        // The simulator's instantiation is plain ILGPU (shuffles): it must compile too, and carry no inline PTX.
        string ptx = Compile(typeof(TensorCoreGemm).GetMethod(nameof(TensorCoreGemm.GemmKernel))!.MakeGenericMethod(typeof(EmulatedMma)));
        Assert.That(ptx, Does.Contain("bar.warp.sync"), "the emulation publishes fragments between warp barriers");
        Assert.That(ptx, Does.Not.Contain("mma.sync"));
    }

    private string Compile(MethodInfo kernel)
    {
        var description = EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        try
        {
            return ((PTXCompiledKernel)_backend!.Compile(description, new KernelSpecialization())).PTXAssembly;
        }
        catch (Exception e)
        {
            var reasons = new List<string>();
            for (Exception? x = e; x is not null; x = x.InnerException) reasons.Add(x.GetType().Name + ": " + x.Message);
            Assert.Fail($"ILGPU could not compile {kernel.Name} to PTX:\n  " + string.Join("\n  ", reasons));
            throw;
        }
    }

    private static int CountOf(string text, string what)
    {
        int count = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) count++;
        return count;
    }
}
