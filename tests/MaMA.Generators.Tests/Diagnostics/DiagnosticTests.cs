using System.Reflection;
using MaMA.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace MaMA.Generators.Tests.Diagnostics;

/// <summary>
/// One minimal invalid declaration per diagnostic id: the generator must report exactly that id,
/// at a location covering the offending code, and emit no source for the kernel.
/// </summary>
[TestFixture]
public sealed class DiagnosticTests
{
    /// <summary>A declaration inside <c>namespace Sample; public static partial class Ops { ... }</c>.</summary>
    private static string InOps(string members) => $$"""
        using ILGPU;
        using MaMA.Kernels;

        namespace Sample;

        public static partial class Ops
        {
        {{members}}
        }
        """;

    private static string Scalars(int n) => string.Join(", ", Enumerable.Range(0, n).Select(k => $"float a{k}"));

    /// <summary>(id, source, text the diagnostic span must contain, hint name the kernel would get).</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        static TestCaseData Case(string id, string name, string source, string located, string hint = "Sample.Ops.Bad.g.cs") =>
            new TestCaseData(id, source, located, hint).SetName($"{id}_{name}");

        yield return Case("MAMA0001", "InstanceMethod", """
            using ILGPU;
            using MaMA.Kernels;
            namespace Sample;
            public partial class Ops
            {
                [Kernel] private void BadKernel(int i, ArrayView<float> x) { x[i] = 0f; }
            }
            """, "private void BadKernel");

        yield return Case("MAMA0002", "MissingSuffix", InOps("""
            [Kernel] private static void Bad(int i, ArrayView<float> x) { x[i] = 0f; }
            """), "Bad(int i", hint: "Sample.Ops.g.cs");
        yield return Case("MAMA0002", "OnlySuffix", InOps("""
            [Kernel] private static void Kernel(int i, ArrayView<float> x) { x[i] = 0f; }
            """), "Kernel(int i", hint: "Sample.Ops..g.cs");

        yield return Case("MAMA0003", "LongIndex", InOps("""
            [Kernel] private static void BadKernel(long i, ArrayView<float> x) { x[i] = 0f; }
            """), "long i");
        yield return Case("MAMA0003", "RefIndex", InOps("""
            [Kernel] private static void BadKernel(ref int i, ArrayView<float> x) { x[i] = 0f; }
            """), "ref int i");
        yield return Case("MAMA0003", "NoParameters", InOps("""
            [Kernel] private static void BadKernel() { }
            """), "()");

        yield return Case("MAMA0004", "StringScalar", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView<float> x, string s) { x[i] = 0f; }
            """), "string s");
        yield return Case("MAMA0004", "RefScalar", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView<float> x, ref float a) { x[i] = a; }
            """), "ref float a");
        yield return Case("MAMA0004", "Pointer", InOps("""
            [Kernel] private static unsafe void BadKernel(int i, float* p) { p[i] = 0f; }
            """), "float* p");
        yield return Case("MAMA0004", "TwoDimensionalView", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView2D<float, Stride2D.DenseX> m) { m[i, 0] = 0f; }
            """), "ArrayView2D<float, Stride2D.DenseX> m");

        yield return Case("MAMA0005", "Length", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView<float> x) { if (i < x.Length) x[i] = 0f; }
            """), "x");
        yield return Case("MAMA0005", "PassedOn", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView<float> x) { Clear(x, i); }
            private static void Clear(ArrayView<float> v, int i) => v[i] = 0f;
            """), "x");

        yield return Case("MAMA0006", "ReturnsInt", InOps("""
            [Kernel] private static int BadKernel(int i, ArrayView<float> x) { x[i] = 0f; return i; }
            """), "int");

        yield return Case("MAMA0007", "NotPartial", """
            using ILGPU;
            using MaMA.Kernels;
            namespace Sample;
            public static class Ops
            {
                [Kernel] private static void BadKernel(int i, ArrayView<float> x) { x[i] = 0f; }
            }
            """, "BadKernel");
        yield return Case("MAMA0007", "OuterNotPartial", """
            using ILGPU;
            using MaMA.Kernels;
            namespace Sample;
            public class Outer
            {
                public static partial class Ops
                {
                    [Kernel] private static void BadKernel(int i, ArrayView<float> x) { x[i] = 0f; }
                }
            }
            """, "BadKernel", hint: "Sample.Outer.Ops.Bad.g.cs");

        yield return Case("MAMA0008", "ZeroCpuGrain", InOps("""
            [Kernel(CpuGrain = 0)] private static void BadKernel(int i, ArrayView<float> x) { x[i] = 0f; }
            """), "BadKernel");
        yield return Case("MAMA0008", "GroupSizeTooLarge", InOps("""
            [Kernel(GroupSize = 2048)] private static void BadKernel(int i, ArrayView<float> x) { x[i] = 0f; }
            """), "BadKernel");
        yield return Case("MAMA0008", "NegativeGroupSize", InOps("""
            [Kernel(GroupSize = -1)] private static void BadKernel(int i, ArrayView<float> x) { x[i] = 0f; }
            """), "BadKernel");

        yield return Case("MAMA0009", "GenericMethod", InOps("""
            [Kernel] private static void BadKernel<T>(int i, ArrayView<T> x) where T : unmanaged { x[i] = default; }
            """), "BadKernel<T>");

        yield return Case("MAMA0010", "Extern", InOps("""
            [Kernel] private static extern void BadKernel(int i, ArrayView<float> x);
            """), "extern void BadKernel");
        yield return Case("MAMA0010", "PartialDefinition", InOps("""
            [Kernel] private static partial void BadKernel(int i, ArrayView<float> x);
            private static partial void BadKernel(int i, ArrayView<float> x) { x[i] = 0f; }
            """), "partial void BadKernel");

        yield return Case("MAMA0011", "ExtentOnScalar", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView<float> x, [Extent("count")] int n) { x[i] = n; }
            """), "int n");

        yield return Case("MAMA0013", "ScalarNamedCount", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView<float> x, int count) { x[i] = count; }
            """), "int count");
        yield return Case("MAMA0013", "ViewNamedStream", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView<float> stream) { stream[i] = 0f; }
            """), "ArrayView<float> stream");
        yield return Case("MAMA0013", "GeneratedPrefix", InOps("""
            [Kernel] private static void BadKernel(int i, ArrayView<float> x, float __scale) { x[i] = __scale; }
            """), "float __scale");

        yield return Case("MAMA0012", "SixteenParameters", InOps($$"""
            [Kernel] private static void BadKernel(int i, {{Scalars(16)}}) { }
            """), "a15");
        yield return Case("MAMA0012", "FifteenParameters", InOps($$"""
            [Kernel] private static void BadKernel(int i, {{Scalars(15)}}) { }
            """), "a14");
    }

    [TestCaseSource(nameof(Cases))]
    public void InvalidDeclaration_ReportsDiagnostic_AndGeneratesNothing(string id, string source, string located, string hint)
    {
        GeneratorRun run = GeneratorHarness.Run(source);

        Assert.That(run.GeneratorDiagnostics.Select(d => d.Id).Distinct(), Is.EqualTo(new[] { id }),
            "Generator diagnostics:\n" + GeneratorHarness.Describe(run.GeneratorDiagnostics));
        Assert.That(run.Sources.Select(s => s.HintName), Has.No.Member(hint), "Source was generated for an invalid kernel.");
        Assert.That(run.Sources, Is.Empty, "Generated: " + string.Join(", ", run.Sources.Select(s => s.HintName)));

        foreach (Diagnostic d in run.GeneratorDiagnostics)
        {
            Assert.That(d.Severity, Is.EqualTo(DiagnosticSeverity.Error), d.ToString());
            FileLinePositionSpan span = d.Location.GetLineSpan();
            Assert.That(span.Path, Is.EqualTo("Kernels.cs"), d.ToString());
            string text = source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length);
            Assert.That(text, Does.Contain(located), $"{d} points at '{text}'.");
            int line = source.Take(d.Location.SourceSpan.Start).Count(c => c == '\n');
            Assert.That(span.StartLinePosition.Line, Is.EqualTo(line), $"{d}: line does not match the span.");
            Assert.That(d.GetMessage(), Does.Not.Contain("{0}").And.Not.Contain("{1}"), "Unformatted message.");
        }
    }

    [Test]
    public void EveryDescriptor_HasACase()
    {
        Type descriptors = typeof(KernelGenerator).Assembly.GetType("MaMA.Generators.Diagnostics.DiagnosticDescriptors", throwOnError: true)!;
        string[] ids = descriptors.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => ((DiagnosticDescriptor)f.GetValue(null)!).Id)
            .OrderBy(s => s, StringComparer.Ordinal)
            .ToArray();
        string[] covered = Cases().Select(c => (string)c.Arguments[0]!).Distinct().OrderBy(s => s, StringComparer.Ordinal).ToArray();

        Assert.That(ids, Has.Length.GreaterThanOrEqualTo(12));
        Assert.That(covered, Is.EqualTo(ids), "Every DiagnosticDescriptor needs a case in DiagnosticTests.Cases.");
    }

    [Test]
    public void InvalidKernel_DoesNotStopValidNeighbours()
    {
        GeneratorRun run = GeneratorHarness.Run(InOps("""
            [Kernel] private static void GoodKernel(int i, ArrayView<float> x) { x[i] = 1f; }
            [Kernel] private static int BadKernel(int i, ArrayView<float> x) { x[i] = 0f; return 0; }
            """));

        Assert.That(run.GeneratorDiagnostics.Select(d => d.Id), Is.EqualTo(new[] { "MAMA0006" }));
        Assert.That(run.Sources.Select(s => s.HintName), Is.EqualTo(new[] { "Sample.Ops.Good.g.cs" }));
    }

    [Test]
    public void FourteenParametersAfterIndex_GenerateCompilingCode()
    {
        GeneratorRun run = GeneratorHarness.Run(InOps($$"""
            [Kernel] private static void WideKernel(int i, ArrayView<float> y, {{Scalars(13)}}) { y[i] = a0 + a12; }
            """));

        Assert.That(run.GeneratorDiagnostics, Is.Empty, GeneratorHarness.Describe(run.GeneratorDiagnostics));
        Assert.That(run.Sources.Select(s => s.HintName), Is.EqualTo(new[] { "Sample.Ops.Wide.g.cs" }));
        Assert.That(run.OutputErrors, Is.Empty, GeneratorHarness.Describe(run.OutputErrors));
    }
}
