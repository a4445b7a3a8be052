using System.Linq;
using MaMA.Generators.Diagnostics;
using MaMA.Generators.Models;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace MaMA.Generators
{
    /// <summary>
    /// Turns every method marked <c>[MaMA.Kernels.Kernel]</c> into <c>{Host}.g.cs</c>: an ILGPU entry
    /// point, a launcher that loads the kernel once per accelerator and validates extents, and a
    /// multi-threaded CPU implementation compiled from the same body over raw pointers.
    /// Pipeline: attribute lookup -> <see cref="KernelResult"/> (value-equal model) -> emit.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed partial class KernelGenerator : IIncrementalGenerator
    {
        public const string KernelAttributeName = "MaMA.Kernels.KernelAttribute";

        /// <summary>Step names, so tests can prove unchanged kernels are not regenerated.</summary>
        public static class TrackingNames
        {
            public const string Kernels = nameof(Kernels);
        }

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<KernelResult> results = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    KernelAttributeName,
                    predicate: static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.MethodDeclarationSyntax,
                    transform: static (ctx, token) => Collect(ctx, token))
                .WithTrackingName(TrackingNames.Kernels);

            context.RegisterSourceOutput(results, static (spc, result) =>
            {
                foreach (DiagnosticInfo info in result.Diagnostics)
                    spc.ReportDiagnostic(ToDiagnostic(info));
                if (result.Model is not null)
                    spc.AddSource(result.Model.HintName, Emit(result.Model));
            });
        }

        private static Diagnostic ToDiagnostic(DiagnosticInfo info)
        {
            var location = Location.Create(
                info.FilePath,
                new TextSpan(info.Start, info.Length),
                new LinePositionSpan(new LinePosition(info.StartLine, info.StartColumn), new LinePosition(info.EndLine, info.EndColumn)));
            object[] args = info.Arguments.Cast<object>().ToArray();
            return Diagnostic.Create(DiagnosticDescriptors.ById(info.Id)!, location, args);
        }
    }
}
