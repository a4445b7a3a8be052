using System.Collections.Immutable;
using MaMA.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace MaMA.Generators.Tests.Infrastructure;

/// <summary>One generated file: its hint name and text.</summary>
public sealed record GeneratedFile(string HintName, string Text);

/// <summary>Everything one generator pass produced.</summary>
public sealed record GeneratorRun(
    GeneratorDriver Driver,
    CSharpCompilation InputCompilation,
    Compilation OutputCompilation,
    GeneratorDriverRunResult RunResult,
    ImmutableArray<GeneratedFile> Sources,
    ImmutableArray<Diagnostic> GeneratorDiagnostics,
    ImmutableArray<Diagnostic> OutputDiagnostics)
{
    /// <summary>Errors of the compilation with the generated files added.</summary>
    public ImmutableArray<Diagnostic> OutputErrors =>
        OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();

    /// <summary>The single generated file whose hint name is <paramref name="hintName"/>.</summary>
    public GeneratedFile Source(string hintName)
    {
        GeneratedFile? file = Sources.FirstOrDefault(s => s.HintName == hintName);
        Assert.That(file, Is.Not.Null,
            $"No generated file '{hintName}'. Generated: [{string.Join(", ", Sources.Select(s => s.HintName))}]; " +
            $"generator diagnostics: [{string.Join("; ", GeneratorDiagnostics)}]");
        return file!;
    }
}

/// <summary>
/// Builds an in-memory <see cref="CSharpCompilation"/> against the running framework, ILGPU and
/// MaMA.Kernels (for the [Kernel]/[Extent] attributes and KernelChecks), and runs
/// <see cref="KernelGenerator"/> over it with step tracking on.
/// </summary>
public static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly CSharpCompilationOptions CompilationOptions = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary)
        .WithAllowUnsafe(true)
        .WithNullableContextOptions(NullableContextOptions.Enable)
        .WithOptimizationLevel(OptimizationLevel.Debug);

    private static readonly Lazy<ImmutableArray<MetadataReference>> LazyReferences = new(LoadReferences);

    /// <summary>Framework assemblies of the running runtime plus ILGPU and MaMA.Kernels.</summary>
    public static ImmutableArray<MetadataReference> References => LazyReferences.Value;

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        string tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string
            ?? throw new InvalidOperationException("TRUSTED_PLATFORM_ASSEMBLIES is not available.");
        // Only the shared framework (the directory of System.Private.CoreLib), not the test's own
        // dependencies (NUnit, Roslyn, ...), so the test compilation sees what a real project sees.
        string frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        IEnumerable<string> framework = tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => string.Equals(Path.GetDirectoryName(p), frameworkDir, StringComparison.OrdinalIgnoreCase))
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase));
        string[] extra =
        [
            typeof(ILGPU.ArrayView<>).Assembly.Location,
            typeof(MaMA.Kernels.KernelAttribute).Assembly.Location,
        ];
        return framework.Concat(extra)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    }

    /// <summary>Parses <paramref name="path"/>/<paramref name="source"/> into a syntax tree with the harness options.</summary>
    public static SyntaxTree Parse(string source, string path = "Kernels.cs") =>
        CSharpSyntaxTree.ParseText(source, ParseOptions, path);

    /// <summary>A compilation of the given files (path, source) against <see cref="References"/>.</summary>
    public static CSharpCompilation CreateCompilation(params (string Path, string Source)[] files) =>
        CSharpCompilation.Create(
            "GeneratorTestAssembly",
            files.Select(f => Parse(f.Source, f.Path)),
            References,
            CompilationOptions);

    /// <summary>A fresh driver with <see cref="KernelGenerator"/> and step tracking enabled.</summary>
    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            [new KernelGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once over a single source file.</summary>
    public static GeneratorRun Run(string source) => Run(CreateCompilation(("Kernels.cs", source)));

    /// <summary>Runs <paramref name="driver"/> (a fresh one when null) over <paramref name="compilation"/>.</summary>
    public static GeneratorRun Run(CSharpCompilation compilation, GeneratorDriver? driver = null)
    {
        driver = (driver ?? CreateDriver())
            .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        GeneratorDriverRunResult result = driver.GetRunResult();

        Exception? crash = result.Results.Select(r => r.Exception).FirstOrDefault(e => e is not null);
        if (crash is not null)
            Assert.Fail("KernelGenerator threw: " + crash);

        ImmutableArray<GeneratedFile> sources = result.Results
            .SelectMany(r => r.GeneratedSources)
            .Select(s => new GeneratedFile(s.HintName, s.SourceText.ToString()))
            .OrderBy(s => s.HintName, StringComparer.Ordinal)
            .ToImmutableArray();
        return new GeneratorRun(driver, compilation, output, result, sources, generatorDiagnostics, output.GetDiagnostics());
    }

    /// <summary>Formats diagnostics one per line for assertion messages.</summary>
    public static string Describe(IEnumerable<Diagnostic> diagnostics)
    {
        string text = string.Join(Environment.NewLine, diagnostics.Select(d => "  " + d));
        return text.Length == 0 ? "  (none)" : text;
    }
}
