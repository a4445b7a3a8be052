using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace MaMA.Generators.Tests.Ptx;

/// <summary>
/// Compiles every generated ILGPU entry point in MaMA.Kernels to PTX for sm_80 with ILGPU's PTX
/// backend alone: no GPU and no CUDA driver needed, so CI catches kernels ILGPU cannot compile
/// (unsupported calls, allocations, exceptions, managed types) before they reach a device.
/// Kernels are found by reflection, so new [Kernel] declarations are picked up automatically.
/// </summary>
[TestFixture]
public sealed class PtxCompilationTests
{
    /// <summary>A floor on the kernel count, so a broken lookup cannot pass with zero cases.</summary>
    private const int MinimumKernelCount = 6;

    private static readonly CudaArchitecture Architecture = CudaArchitecture.SM_80;

    private Context? _context;
    private PTXBackend? _backend;

    /// <summary>Every public static EntryKernel of a generated host type (a type nested in its container).</summary>
    public static IReadOnlyList<MethodInfo> EntryKernels() =>
        typeof(MaMA.Kernels.KernelAttribute).Assembly.GetTypes()
            .Where(t => t.IsNested && !t.ContainsGenericParameters)
            .Select(t => t.GetMethod("EntryKernel", BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .OfType<MethodInfo>()
            .OrderBy(m => m.DeclaringType!.FullName, StringComparer.Ordinal)
            .ToArray();

    public static IEnumerable<TestCaseData> Kernels() =>
        EntryKernels().Select(m => new TestCaseData(m).SetName("Ptx_" + KernelName(m)));

    [OneTimeSetUp]
    public void CreateBackend()
    {
        // Same context options as the engine's IlgpuRuntime (Default + Algorithms), so the PTX checked
        // here is the PTX a CUDA device would load. Creating a context needs no GPU.
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
    public void EntryKernels_AreFound()
    {
        IReadOnlyList<MethodInfo> kernels = EntryKernels();
        Assert.That(kernels, Has.Count.GreaterThanOrEqualTo(MinimumKernelCount),
            "Found: " + string.Join(", ", kernels.Select(KernelName)));
        Assert.That(kernels.Select(KernelName), Does.Contain("Activations.ReluForward"));
        foreach (MethodInfo m in kernels)
        {
            Assert.That(m.ReturnType, Is.EqualTo(typeof(void)), KernelName(m));
            Assert.That(m.GetParameters()[0].ParameterType, Is.EqualTo(typeof(Index1D)), KernelName(m));
        }
    }

    [TestCaseSource(nameof(Kernels))]
    public void EntryKernel_CompilesToPtx(MethodInfo entry)
    {
        var description = EntryPointDescription.FromImplicitlyGroupedKernel(entry);
        PTXCompiledKernel compiled;
        try
        {
            compiled = (PTXCompiledKernel)_backend!.Compile(description, new KernelSpecialization());
        }
        catch (Exception e)
        {
            // ILGPU wraps the real reason (e.g. NotSupportedException for an allocation) several levels deep.
            var reasons = new List<string>();
            for (Exception? x = e; x is not null; x = x.InnerException) reasons.Add(x.GetType().Name + ": " + x.Message);
            Assert.Fail($"ILGPU could not compile {KernelName(entry)} to PTX:\n  " + string.Join("\n  ", reasons) + "\n" + e);
            return;
        }
        string ptx = compiled.PTXAssembly;
        PtxDump.Keep(KernelName(entry), ptx);

        Assert.That(ptx, Does.Contain(".target sm_80"), Head(ptx));
        Assert.That(ptx, Does.Contain(".entry "), Head(ptx));
        Assert.That(ptx, Does.Contain(".version 7.1"), Head(ptx));
        PtxFloat64.AssertNone(ptx, KernelName(entry));
        // MathF.Tanh compiles to tanh.approx.f32 on sm_75+ (relative error about 2^-11): the kernels form
        // tanh through exp instead (Activations.GeluTanh).
        Assert.That(ptx, Does.Not.Contain("tanh.approx"), KernelName(entry));
    }

    /// <summary>
    /// The tiled fp32 GEMM (CUDA without cuBLAS runs it; OpenCL its OpenCL C form): its tiles in
    /// shared memory behind barriers, 16 multiply-adds per k step from registers, nothing in local memory
    /// and no float64.
    /// </summary>
    [Test]
    public void TiledMatMul_KeepsItsTilesShared_AndItsAccumulatorsInRegisters()
    {
        MethodInfo kernel = typeof(MaMA.Kernels.Linear.TiledMatMul).GetMethod(nameof(MaMA.Kernels.Linear.TiledMatMul.TiledKernel))!;
        string ptx = ((PTXCompiledKernel)_backend!.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
        PtxDump.Keep("TiledMatMul.TiledKernel", ptx);
        Assert.That(ptx, Does.Contain("bar.sync"));
        Assert.That(ptx, Does.Contain("ld.shared.f32"));
        Assert.That(ptx, Does.Contain("st.shared.f32"));
        Assert.That(ptx, Does.Not.Contain(".local"), "accumulators spilled to local memory");
        // ILGPU writes each multiply-add as plain mul.f32 and add.f32 (no .rn), which ptxas contracts into one FFMA.
        Assert.That(System.Text.RegularExpressions.Regex.Matches(ptx, @"\tmul\.f32\t").Count, Is.GreaterThanOrEqualTo(16), "the 4 x 4 micro-tile's products");
        Assert.That(ptx, Does.Not.Contain("mul.rn.f32"), "a rounding mode would keep ptxas from contracting");
        PtxFloat64.AssertNone(ptx, "tiled matmul");
    }

    [Test]
    public void Float64Check_SeesAUintToFloatConversion()
    {
        // Guards the float64 check: C#'s uint-to-float conversion is the float64 round trip it looks for.
        MethodInfo widening = typeof(PtxCompilationTests).GetMethod(nameof(UintToFloatKernel), BindingFlags.NonPublic | BindingFlags.Static)!;
        string ptx = ((PTXCompiledKernel)_backend!.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(widening), new KernelSpecialization())).PTXAssembly;
        Assert.That(PtxFloat64.Instructions(ptx), Has.Some.Contains("cvt.rn.f64.u32").And.Some.Contains("cvt.rn.f32.f64"));
        MethodInfo throughInt = typeof(PtxCompilationTests).GetMethod(nameof(UintThroughIntToFloatKernel), BindingFlags.NonPublic | BindingFlags.Static)!;
        PtxFloat64.AssertNone(((PTXCompiledKernel)_backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(throughInt), new KernelSpecialization())).PTXAssembly, "through int");
    }

    internal static void UintToFloatKernel(Index1D i, ArrayView<uint> x, ArrayView<float> y) => y[i] = (x[i] >> 8) * (1f / 16777216f);

    internal static void UintThroughIntToFloatKernel(Index1D i, ArrayView<uint> x, ArrayView<float> y) => y[i] = (int)(x[i] >> 8) * (1f / 16777216f);

    [Test]
    public void InvalidDeviceCode_IsRejected()
    {
        // Guards the guard: the backend really compiles the IL, so device-incompatible code fails here.
        MethodInfo bad = typeof(PtxCompilationTests).GetMethod(nameof(AllocatingKernel), BindingFlags.NonPublic | BindingFlags.Static)!;
        Assert.That(() => _backend!.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(bad), new KernelSpecialization()),
            Throws.InstanceOf<InternalCompilerException>());
    }

    private static void AllocatingKernel(Index1D i, ArrayView<float> x) => x[i] = new float[i + 1].Length;

    private static string KernelName(MethodInfo m) => m.DeclaringType!.DeclaringType!.Name + "." + m.DeclaringType.Name;

    private static string Head(string ptx) => "PTX begins:\n" + string.Join('\n', ptx.Split('\n').Take(20));
}
