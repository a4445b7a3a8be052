using System.Diagnostics;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;
using MaMA.Generators.Tests.Ptx;

namespace MaMA.Generators.Tests.OpenCL;

/// <summary>
/// Every generated kernel compiles to OpenCL C for the least OpenCL device ILGPU can drive, and a
/// conforming OpenCL C compiler (clang, which ships with clang-tidy on our machines) accepts that
/// source as OpenCL C 3.0 and 2.0. No OpenCL device is needed, the way the PTX tests need no GPU.
/// <para>
/// On OpenCL the engine runs exactly these kernels: the warp-per-row and tensor-core kernels are
/// CUDA's (RowForm, TensorCorePath). The least device is ILGPU's floor, OpenCL C 2.0 or 3.0 with the
/// generic address space, and nothing optional: no fp64 (Intel Arc and most integrated GPUs lack
/// it), no fp16, no 64-bit atomics, no sub-groups. ILGPU refuses a kernel that needs more (a
/// <c>double</c>, say) for that device, and clang gets the same floor (<c>-cl-ext</c>).
/// </para>
/// <para>
/// Not covered: running the kernels. Debian 12's OpenCL CPU runtime (PoCL 3.1) offers no generic
/// address space, so ILGPU refuses it, and CI has no GPU (docs/gpu-kernels.md, "OpenCL").
/// </para>
/// </summary>
[TestFixture]
public sealed class OpenClCompilationTests
{
    /// <summary>A floor on the kernel count, so a broken lookup cannot pass with few cases.</summary>
    private const int MinimumKernelCount = 100;

    /// <summary>clang's features for the least device: in 3.0 everything optional off but the generic address space (and 64-bit integers, which full-profile devices have).</summary>
    private static readonly string[] OpenCL30 = ["-cl-std=CL3.0", "-Xclang", "-cl-ext=-all,+__opencl_c_generic_address_space,+__opencl_c_int64"];

    /// <summary>In 2.0 the generic address space is core; fp64 and fp16 are extensions, off.</summary>
    private static readonly string[] OpenCL20 = ["-cl-std=CL2.0", "-Xclang", "-cl-ext=-cl_khr_fp64,-cl_khr_fp16"];

    private Context? _context;
    private CLBackend? _backend;

    public static IEnumerable<TestCaseData> Kernels() =>
        PtxCompilationTests.EntryKernels().Select(m => new TestCaseData(m).SetName("OpenCL_" + KernelName(m)));

    [OneTimeSetUp]
    public void CreateBackend()
    {
        // The engine's context options (IlgpuRuntime); the capability context is the least device:
        // float16, float64, generic address space, 64-bit atomics, sub-groups.
        _context = Context.Create(builder => builder.Default().EnableAlgorithms());
        var least = new CLCapabilityContext(false, false, true, false, false);
        _backend = new CLBackend(_context, least, CLDeviceVendor.Other, CLCVersion.CL30);
    }

    [OneTimeTearDown]
    public void DisposeBackend()
    {
        _backend?.Dispose();
        _context?.Dispose();
    }

    [TestCaseSource(nameof(Kernels))]
    public void EntryKernel_CompilesToOpenCLC_ForTheLeastDevice(MethodInfo entry)
    {
        string source = Compile(entry);
        Assert.That(source, Does.Contain("kernel void Kernel_EntryKernel("));
        Assert.That(source, Does.Not.Contain("#pragma OPENCL EXTENSION"), "an extension the least device does not have");
    }

    [Test]
    public void Clang_AcceptsEveryKernel_AsOpenCLC30AndC20()
    {
        string clang = Clang();
        IReadOnlyList<MethodInfo> kernels = PtxCompilationTests.EntryKernels();
        Assert.That(kernels, Has.Count.GreaterThanOrEqualTo(MinimumKernelCount));
        string dir = Directory.CreateTempSubdirectory("mama-opencl-").FullName;
        var refused = new List<string>();
        foreach (MethodInfo entry in kernels)
        {
            string file = Path.Combine(dir, KernelName(entry) + ".cl");
            File.WriteAllText(file, Compile(entry));
            foreach (string[] standard in new[] { OpenCL30, OpenCL20 })
                if (RunClang(clang, standard, file) is { } errors)
                    refused.Add($"{KernelName(entry)} ({standard[0]}):\n{errors}");
        }
        // The sources stay for a look when clang refused one.
        if (refused.Count == 0) Directory.Delete(dir, recursive: true);
        Assert.That(refused, Is.Empty, $"{clang} refused {refused.Count} compilations; the sources are in {dir}:\n" + string.Join("\n", refused.Take(5)));
    }

    /// <summary>
    /// The tiled fp32 GEMM (MaMA.Kernels.Linear.TiledMatMul) is what OpenCL GPUs run for every fp32
    /// product, and it is explicitly grouped rather than generated: it compiles for the least device
    /// with its tiles in local memory and its barriers, and clang accepts the source in both standards.
    /// </summary>
    [Test]
    public void TiledMatMul_CompilesForTheLeastDevice_AndClangAcceptsIt()
    {
        MethodInfo kernel = typeof(MaMA.Kernels.Linear.TiledMatMul).GetMethod(nameof(MaMA.Kernels.Linear.TiledMatMul.TiledKernel))!;
        string source = ((CLCompiledKernel)_backend!.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).Source;
        Assert.That(source, Does.Contain("barrier"), "the tile barriers");
        Assert.That(source, Does.Contain("local "), "the tiles in local (shared) memory");
        Assert.That(source, Does.Not.Contain("#pragma OPENCL EXTENSION"));
        string clang = Clang();
        string dir = Directory.CreateTempSubdirectory("mama-opencl-").FullName;
        try
        {
            string file = Path.Combine(dir, "tiled-matmul.cl");
            File.WriteAllText(file, source);
            foreach (string[] standard in new[] { OpenCL30, OpenCL20 })
                Assert.That(RunClang(clang, standard, file), Is.Null, standard[0]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void LeastDevice_RefusesFloat64()
    {
        // Guards the guard: a uint-to-float conversion is a double round trip in ILGPU's OpenCL C
        // too, which ILGPU refuses for a device without fp64; through int it compiles.
        Assert.That(() => _backend!.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(Widening), new KernelSpecialization()),
            Throws.InstanceOf<InternalCompilerException>().With.InnerException.InnerException.InstanceOf<CapabilityNotSupportedException>()
                .And.InnerException.InnerException.Message.Contains("Float64"));
        Assert.That(Compile(ThroughInt), Does.Not.Match(@"\bdouble\b"));
    }

    [Test]
    public void Clang_RefusesFloat64_AsTheLeastDeviceWould()
    {
        // Guards clang's flags: the same conversion compiled for a device with fp64 is refused by
        // clang with the least device's features, in both standards.
        string clang = Clang();
        using var withFloat64 = new CLBackend(_context!, new CLCapabilityContext(false, true, true, false, false), CLDeviceVendor.Other, CLCVersion.CL30);
        string widening = ((CLCompiledKernel)withFloat64.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(Widening), new KernelSpecialization())).Source;
        Assert.That(widening, Does.Match(@"\bdouble\b"));
        string dir = Directory.CreateTempSubdirectory("mama-opencl-").FullName;
        try
        {
            string bad = Path.Combine(dir, "widening.cl"), good = Path.Combine(dir, "through-int.cl");
            File.WriteAllText(bad, widening);
            File.WriteAllText(good, Compile(ThroughInt));
            foreach (string[] standard in new[] { OpenCL30, OpenCL20 })
            {
                Assert.That(RunClang(clang, standard, bad), Does.Contain("double"), standard[0]);
                Assert.That(RunClang(clang, standard, good), Is.Null, standard[0]);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static MethodInfo Widening => typeof(PtxCompilationTests).GetMethod(nameof(PtxCompilationTests.UintToFloatKernel), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static MethodInfo ThroughInt => typeof(PtxCompilationTests).GetMethod(nameof(PtxCompilationTests.UintThroughIntToFloatKernel), BindingFlags.NonPublic | BindingFlags.Static)!;

    private string Compile(MethodInfo entry)
    {
        try
        {
            return ((CLCompiledKernel)_backend!.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(entry), new KernelSpecialization())).Source;
        }
        catch (Exception e)
        {
            var reasons = new List<string>();
            for (Exception? x = e; x is not null; x = x.InnerException) reasons.Add(x.GetType().Name + ": " + x.Message);
            Assert.Fail($"ILGPU could not compile {entry.DeclaringType!.FullName} to OpenCL C:\n  " + string.Join("\n  ", reasons));
            throw;
        }
    }

    /// <summary>
    /// clang's errors for <paramref name="file"/> compiled to SPIR (full semantic analysis and code
    /// generation, not a syntax check alone), or null when it compiles.
    /// </summary>
    private static string? RunClang(string clang, string[] standard, string file)
    {
        var info = new ProcessStartInfo(clang) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in new[] { "-x", "cl" }.Concat(standard).Concat(["-target", "spir64", "-Xclang", "-finclude-default-header", "-c", "-emit-llvm", "-o", "/dev/null", file]))
            info.ArgumentList.Add(a);
        using Process p = Process.Start(info)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? null : (stderr + stdout.Result).Trim();
    }

    /// <summary>MAMA_CLANG, else the first clang on the PATH (unversioned, then clang-20 down to clang-14).</summary>
    private static string Clang()
    {
        if (Environment.GetEnvironmentVariable("MAMA_CLANG") is { Length: > 0 } named) return named;
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (string name in new[] { "clang" }.Concat(Enumerable.Range(14, 7).Reverse().Select(v => "clang-" + v)))
            foreach (string folder in path)
                if (File.Exists(Path.Combine(folder, name))) return Path.Combine(folder, name);
        Assert.Inconclusive("No clang on the PATH to check the OpenCL C (Debian: apt-get install clang-14, or set MAMA_CLANG).");
        return "";
    }

    private static string KernelName(MethodInfo m) => m.DeclaringType!.DeclaringType!.Name + "." + m.DeclaringType.Name;
}
