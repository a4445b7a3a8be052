using MaMA.Generators.Tests.Infrastructure;

namespace MaMA.Generators.Tests.Generation;

/// <summary>
/// Names chosen by the kernel author must not collide with what the generator writes around the body:
/// locals of Launch/RunCpu, hint names across namespaces.
/// </summary>
[TestFixture]
public sealed class NamingTests
{
    [Test]
    public void ParametersNamedLikeGeneratedLocals_Compile()
    {
        // i, start, end, chunk, chunks, kernel, a and xAddress are all plausible kernel parameter names.
        GeneratorRun run = GeneratorHarness.Run("""
            using ILGPU;
            using MaMA.Kernels;

            namespace Sample;

            public static partial class Ops
            {
                [Kernel(CpuGrain = 16)]
                private static void SliceKernel(int idx, [Extent("count")] ArrayView<float> x, [Extent("end")] ArrayView<float> y,
                    int i, int start, int end, int chunk, int chunks, int kernel, float a, long xAddress)
                {
                    x[idx] = y[start + idx] * a + i + end + chunk + chunks + kernel + xAddress;
                }
            }
            """);

        Assert.That(run.GeneratorDiagnostics, Is.Empty, GeneratorHarness.Describe(run.GeneratorDiagnostics));
        Assert.That(run.Sources.Select(s => s.HintName), Has.Exactly(1).Items);
        Assert.That(run.OutputErrors, Is.Empty, GeneratorHarness.Describe(run.OutputErrors));
    }

    [Test]
    public void SameContainerNameInTwoNamespaces_GeneratesBoth()
    {
        const string template = """
            using ILGPU;
            using MaMA.Kernels;

            namespace NS;

            public static partial class Ops
            {
                [Kernel] private static void ScaleKernel(int i, ArrayView<float> x, float s) { x[i] *= s; }
            }
            """;
        GeneratorRun run = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(
            ("A.cs", template.Replace("namespace NS;", "namespace First;")),
            ("B.cs", template.Replace("namespace NS;", "namespace Second;"))));

        Assert.That(run.GeneratorDiagnostics, Is.Empty, GeneratorHarness.Describe(run.GeneratorDiagnostics));
        Assert.That(run.Sources, Has.Length.EqualTo(2));
        Assert.That(run.Sources.Select(s => s.HintName), Is.EqualTo(new[] { "First.Ops.Scale.g.cs", "Second.Ops.Scale.g.cs" }));
        Assert.That(run.OutputErrors, Is.Empty, GeneratorHarness.Describe(run.OutputErrors));
    }

    [Test]
    public void KeywordParameterNames_Compile()
    {
        GeneratorRun run = GeneratorHarness.Run("""
            using ILGPU;
            using MaMA.Kernels;

            namespace Sample;

            public static partial class Ops
            {
                [Kernel] private static void FillKernel(int @int, [Extent("count")] ArrayView<float> @in, [Extent("count")] ArrayView<float> @out, float @base)
                {
                    @out[@int] = @in[@int] + @base;
                }
            }
            """);

        Assert.That(run.GeneratorDiagnostics, Is.Empty, GeneratorHarness.Describe(run.GeneratorDiagnostics));
        Assert.That(run.OutputErrors, Is.Empty, GeneratorHarness.Describe(run.OutputErrors));
        Assert.That(run.Source("Sample.Ops.Fill.g.cs").Text, Does.Contain("KernelChecks.Extent(Name, \"in\", @in.Length"));
    }

    [Test]
    public void GenericContainer_IsReopenedWithItsTypeParameters()
    {
        GeneratorRun run = GeneratorHarness.Run("""
            using ILGPU;
            using MaMA.Kernels;

            namespace Sample;

            public partial class Holder<TTag, TOther> where TTag : struct
            {
                public static partial class Ops
                {
                    [Kernel] private static void ScaleKernel(int i, ArrayView<float> x, float s) { x[i] *= s; }
                }
            }
            """);

        Assert.That(run.GeneratorDiagnostics, Is.Empty, GeneratorHarness.Describe(run.GeneratorDiagnostics));
        Assert.That(run.OutputErrors, Is.Empty, GeneratorHarness.Describe(run.OutputErrors));
        Assert.That(run.Source("Sample.Holder.Ops.Scale.g.cs").Text, Does.Contain("public partial class Holder<TTag, TOther>"));
    }
}
