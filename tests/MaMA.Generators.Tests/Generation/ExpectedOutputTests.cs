using MaMA.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace MaMA.Generators.Tests.Generation;

/// <summary>
/// Golden-file tests: the generated text of small declarations must equal Expected/*.g.cs exactly,
/// and the compilation with the generated files added must be free of errors.
/// </summary>
[TestFixture]
public sealed class ExpectedOutputTests
{
    /// <summary>Index, two views with extents (one depending on a scalar), two scalars, custom grain.</summary>
    public const string AxpySource = """
        using ILGPU;
        using MaMA.Kernels;

        namespace Sample.Kernels;

        public static partial class Blas
        {
            /// <summary>y[i * incY] += alpha * x[i].</summary>
            [Kernel(CpuGrain = 1024)]
            private static void AxpyKernel(int i, [Extent("count")] ArrayView<float> x, [Extent("(long)count * incY")] ArrayView<float> y, float alpha, int incY)
            {
                float v = alpha * x[i];
                y[i * incY] += v;
            }
        }
        """;

    /// <summary>Global namespace, nested containers (class + struct), expression body, explicit group size, no extents.</summary>
    public const string ScaleSource = """
        using ILGPU;

        internal partial class Outer
        {
            private partial struct Inner
            {
                [MaMA.Kernels.Kernel(GroupSize = 128)]
                internal static void ScaleKernel(int index, ArrayView<double> data, double factor) => data[index] *= factor;
            }
        }
        """;

    [Test]
    public void Axpy_MatchesExpectedFile()
    {
        GeneratorRun run = GeneratorHarness.Run(AxpySource);

        AssertClean(run);
        Assert.That(run.Sources.Select(s => s.HintName), Is.EqualTo(new[] { "Sample.Kernels.Blas.Axpy.g.cs" }));
        ExpectedFiles.AssertMatches("Sample.Kernels.Blas.Axpy.g.cs", run.Source("Sample.Kernels.Blas.Axpy.g.cs").Text);
    }

    [Test]
    public void NestedExpressionBodied_MatchesExpectedFile()
    {
        GeneratorRun run = GeneratorHarness.Run(ScaleSource);

        AssertClean(run);
        Assert.That(run.Sources.Select(s => s.HintName), Is.EqualTo(new[] { "Outer.Inner.Scale.g.cs" }));
        ExpectedFiles.AssertMatches("Outer.Inner.Scale.g.cs", run.Source("Outer.Inner.Scale.g.cs").Text);
    }

    [Test]
    public void GeneratedHost_ExposesEntryLaunchAndRunCpu()
    {
        GeneratorRun run = GeneratorHarness.Run(AxpySource);
        AssertClean(run);

        INamedTypeSymbol? host = run.OutputCompilation.GetTypeByMetadataName("Sample.Kernels.Blas+Axpy");
        Assert.That(host, Is.Not.Null, "Host type Blas.Axpy was not generated.");
        string[] members = host!.GetMembers().OfType<IMethodSymbol>()
            .Where(m => m.MethodKind == MethodKind.Ordinary && m.DeclaredAccessibility == Accessibility.Public)
            .Select(m => m.ToDisplayString(SymbolDisplayFormat.CSharpShortErrorMessageFormat))
            .OrderBy(s => s, StringComparer.Ordinal)
            .ToArray();
        Assert.That(members, Is.EqualTo(new[]
        {
            "Blas.Axpy.EntryKernel(Index1D, ArrayView<float>, ArrayView<float>, float, int)",
            "Blas.Axpy.Launch(AcceleratorStream, int, ArrayView<float>, ArrayView<float>, float, int)",
            "Blas.Axpy.RunCpu(int, float*, float*, float, int)",
        }));
    }

    [Test]
    public unsafe void GeneratedRunCpu_ComputesTheDeclaredBody()
    {
        // Compile the generated code to an in-memory assembly and run RunCpu over a range larger
        // than CpuGrain, so the Parallel.For path executes too.
        GeneratorRun run = GeneratorHarness.Run(AxpySource);
        AssertClean(run);

        using var stream = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult emit = run.OutputCompilation.Emit(stream);
        Assert.That(emit.Success, Is.True, GeneratorHarness.Describe(emit.Diagnostics));
        var context = new System.Runtime.Loader.AssemblyLoadContext("ExpectedOutputTests", isCollectible: true);
        try
        {
            System.Reflection.Assembly assembly = context.LoadFromStream(new MemoryStream(stream.ToArray()));
            System.Reflection.MethodInfo runCpu = assembly.GetType("Sample.Kernels.Blas+Axpy", throwOnError: true)!.GetMethod("RunCpu")!;

            const int count = 5000;
            const int incY = 2;
            float[] x = Enumerable.Range(0, count).Select(i => (float)i).ToArray();
            float[] y = Enumerable.Range(0, count * incY).Select(i => 1f).ToArray();
            fixed (float* px = x)
            fixed (float* py = y)
            {
                runCpu.Invoke(null, [count, System.Reflection.Pointer.Box(px, typeof(float*)), System.Reflection.Pointer.Box(py, typeof(float*)), 3f, incY]);
            }
            for (int i = 0; i < count * incY; i++)
            {
                float want = i % incY == 0 ? 1f + 3f * (i / incY) : 1f;
                if (y[i] != want) Assert.Fail($"y[{i}] = {y[i]}, expected {want}.");
            }
        }
        finally
        {
            context.Unload();
        }
    }

    private static void AssertClean(GeneratorRun run)
    {
        Assert.That(run.GeneratorDiagnostics, Is.Empty, "Generator diagnostics:\n" + GeneratorHarness.Describe(run.GeneratorDiagnostics));
        Assert.That(run.OutputErrors, Is.Empty, "Errors in the compilation with generated code:\n" + GeneratorHarness.Describe(run.OutputErrors));
    }
}
