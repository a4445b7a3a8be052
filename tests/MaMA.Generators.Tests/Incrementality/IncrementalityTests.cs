using System.Collections;
using System.Reflection;
using MaMA.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace MaMA.Generators.Tests.Incrementality;

/// <summary>
/// A second run over an edited compilation must reuse every kernel whose declaration did not change
/// (tracked step <see cref="KernelGenerator.TrackingNames.Kernels"/> Cached/Unchanged, source output Cached)
/// and regenerate exactly the kernel whose body changed.
/// </summary>
[TestFixture]
public sealed class IncrementalityTests
{
    private const string SourceOutput = "SourceOutput"; // WellKnownGeneratorOutputs.SourceOutput

    private const string KernelFile = """
        using ILGPU;
        using MaMA.Kernels;

        namespace Sample;

        public sealed class Unrelated
        {
            public int Value => 1;
        }

        public static partial class Ops
        {
            [Kernel] private static void ScaleKernel(int i, [Extent("count")] ArrayView<float> x, float s) { x[i] *= s; }
        }
        """;

    private const string OtherKernelFile = """
        using ILGPU;
        using MaMA.Kernels;

        namespace Sample;

        public static partial class MoreOps
        {
            [Kernel] private static void ShiftKernel(int i, [Extent("count")] ArrayView<float> x, float s) { x[i] += s; }
        }
        """;

    [Test]
    public void AddingAnUnrelatedFile_ReusesEverything()
    {
        GeneratorRun first = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(("Kernels.cs", KernelFile)));
        Assert.That(first.Sources, Has.Length.EqualTo(1));

        CSharpCompilation edited = first.InputCompilation.AddSyntaxTrees(
            GeneratorHarness.Parse("namespace Sample; public static class Added { public static int Two() => 2; }", "Added.cs"));
        GeneratorRun second = GeneratorHarness.Run(edited, first.Driver);

        AssertReused(second, "Sample.Ops.Scale.g.cs");
        Assert.That(second.Sources, Is.EqualTo(first.Sources));
    }

    [Test]
    public void EditingAnotherClassInTheSameFile_ReusesTheKernel()
    {
        // The edit sits above the kernel, so every position after it moves: the model must not hold positions.
        GeneratorRun first = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(("Kernels.cs", KernelFile)));
        GeneratorRun second = GeneratorHarness.Run(
            ReplaceFile(first.InputCompilation, "Kernels.cs",
                KernelFile.Replace("public int Value => 1;", "public int Value => 41 + 1;\n    public int Other { get; set; }")),
            first.Driver);

        AssertReused(second, "Sample.Ops.Scale.g.cs");
        Assert.That(second.Sources, Is.EqualTo(first.Sources));
    }

    [Test]
    public void ChangingAKernelBody_RegeneratesOnlyThatKernel()
    {
        GeneratorRun first = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(("Kernels.cs", KernelFile), ("MoreOps.cs", OtherKernelFile)));
        Assert.That(first.Sources.Select(s => s.HintName), Is.EqualTo(new[] { "Sample.MoreOps.Shift.g.cs", "Sample.Ops.Scale.g.cs" }));

        GeneratorRun second = GeneratorHarness.Run(
            ReplaceFile(first.InputCompilation, "Kernels.cs", KernelFile.Replace("x[i] *= s;", "x[i] *= s * s;")),
            first.Driver);

        Assert.That(SourceReasons(second, "Sample.Ops.Scale.g.cs"), Is.EqualTo(new[] { IncrementalStepRunReason.Modified }));
        Assert.That(SourceReasons(second, "Sample.MoreOps.Shift.g.cs"), Is.EqualTo(new[] { IncrementalStepRunReason.Cached }));
        Assert.That(KernelStepReasons(second), Does.Contain(IncrementalStepRunReason.Modified));
        Assert.That(second.Source("Sample.Ops.Scale.g.cs").Text, Does.Contain("x[i] *= s * s;"));
        Assert.That(second.Source("Sample.MoreOps.Shift.g.cs"), Is.EqualTo(first.Source("Sample.MoreOps.Shift.g.cs")));
        Assert.That(second.OutputErrors, Is.Empty, GeneratorHarness.Describe(second.OutputErrors));
    }

    [Test]
    public void TrackedModels_HoldNoRoslynObjects()
    {
        // Symbols, syntax nodes or compilations in the pipeline model would defeat caching and root old compilations.
        GeneratorRun run = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(("Kernels.cs", KernelFile)));
        IEnumerable<object> values = run.RunResult.Results.Single().TrackedSteps[KernelGenerator.TrackingNames.Kernels]
            .SelectMany(step => step.Outputs).Select(o => o.Value);

        Assert.That(values, Is.Not.Empty);
        foreach (object value in values)
            AssertNoRoslynObjects(value, value.GetType().Name, new HashSet<object>(ReferenceEqualityComparer.Instance));
    }

    private static CSharpCompilation ReplaceFile(CSharpCompilation compilation, string path, string newSource)
    {
        SyntaxTree old = compilation.SyntaxTrees.Single(t => t.FilePath == path);
        return compilation.ReplaceSyntaxTree(old, GeneratorHarness.Parse(newSource, path));
    }

    private static void AssertReused(GeneratorRun run, string hintName)
    {
        IncrementalStepRunReason[] kernelReasons = KernelStepReasons(run);
        Assert.That(kernelReasons, Is.Not.Empty, "No tracked Kernels step: was the tracking name removed?");
        Assert.That(kernelReasons, Is.All.AnyOf(IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged),
            "Kernels step outputs: " + string.Join(", ", kernelReasons));
        Assert.That(SourceReasons(run, hintName), Is.EqualTo(new[] { IncrementalStepRunReason.Cached }));
    }

    private static IncrementalStepRunReason[] KernelStepReasons(GeneratorRun run) =>
        run.RunResult.Results.Single().TrackedSteps.TryGetValue(KernelGenerator.TrackingNames.Kernels, out var steps)
            ? steps.SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray()
            : [];

    /// <summary>Reasons of the source-output step entries whose input is the kernel that produces <paramref name="hintName"/>.</summary>
    private static IncrementalStepRunReason[] SourceReasons(GeneratorRun run, string hintName)
    {
        GeneratorRunResult result = run.RunResult.Results.Single();
        Assert.That(result.TrackedOutputSteps.ContainsKey(SourceOutput), Is.True, "No tracked source output step.");
        string host = hintName.Split('.')[^3];
        return result.TrackedOutputSteps[SourceOutput]
            .Where(step => step.Inputs.Any(i => DescribesKernel(i.Source.Outputs[i.OutputIndex].Value, host)))
            .SelectMany(step => step.Outputs)
            .Select(o => o.Reason)
            .ToArray();
    }

    /// <summary>Whether a tracked pipeline value is the KernelResult whose model has host name <paramref name="host"/>.</summary>
    private static bool DescribesKernel(object value, string host)
    {
        object? model = value.GetType().GetProperty("Model")?.GetValue(value);
        return model?.GetType().GetProperty("HostName")?.GetValue(model) as string == host;
    }

    private static void AssertNoRoslynObjects(object? value, string path, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return;
        Type type = value.GetType();
        Assert.That(type.Assembly, Is.Not.EqualTo(typeof(Compilation).Assembly).And.Not.EqualTo(typeof(CSharpCompilation).Assembly),
            $"{path} holds a Roslyn object of type {type}.");
        if (!type.IsValueType && !seen.Add(value)) return;
        if (value is IEnumerable items)
        {
            int k = 0;
            foreach (object? item in items) AssertNoRoslynObjects(item, $"{path}[{k++}]", seen);
            return;
        }
        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            AssertNoRoslynObjects(field.GetValue(value), path + "." + field.Name, seen);
    }
}
