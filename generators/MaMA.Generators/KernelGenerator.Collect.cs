using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MaMA.Generators.Diagnostics;
using MaMA.Generators.Models;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace MaMA.Generators
{
    public sealed partial class KernelGenerator
    {
        /// <summary>
        /// The launcher delegate is Action&lt;AcceleratorStream, Index1D, T1..Tn&gt;; System.Action and
        /// ILGPU's KernelLoaders stop at 16 type arguments, which leaves 14 after the index.
        /// </summary>
        internal const int MaxParametersAfterIndex = 14;
        private const string ArrayViewName = "global::ILGPU.ArrayView<T>";
        private const string ExtentAttributeName = "MaMA.Kernels.ExtentAttribute";
        private const string DeviceFunctionAttributeName = "MaMA.Kernels.DeviceFunctionAttribute";

        /// <summary>
        /// Names the generated Launch/RunCpu use next to the kernel's own parameters: the launch
        /// arguments (count is also the extent variable) and the host type's members.
        /// Generated locals start with "__", so that prefix is reserved too.
        /// </summary>
        internal static readonly string[] ReservedParameterNames = { "count", "stream", "Name", "CpuGrain", "EntryKernel", "Body", "s_loaded" };

        /// <summary>Reads one [Kernel] method into a value-equal model, or collects why it is invalid.</summary>
        private static KernelResult Collect(GeneratorAttributeSyntaxContext ctx, CancellationToken token)
        {
            var method = (IMethodSymbol)ctx.TargetSymbol;
            var syntax = (MethodDeclarationSyntax)ctx.TargetNode;
            var diagnostics = new List<DiagnosticInfo>();
            void Report(DiagnosticDescriptor d, SyntaxNode at, params string[] args) => diagnostics.Add(Info(d, at.GetLocation(), args));

            if (!method.IsStatic) Report(DiagnosticDescriptors.KernelMustBeStatic, syntax.Identifier.Parent!, method.Name);
            if (!method.Name.EndsWith("Kernel", System.StringComparison.Ordinal) || method.Name == "Kernel")
                Report(DiagnosticDescriptors.KernelNameSuffix, syntax, method.Name);
            if (!method.ReturnsVoid) Report(DiagnosticDescriptors.KernelMustReturnVoid, syntax.ReturnType, method.Name);
            if (method.IsGenericMethod) Report(DiagnosticDescriptors.GenericKernel, syntax, method.Name);
            if (syntax.Body is null && syntax.ExpressionBody is null) Report(DiagnosticDescriptors.KernelNeedsBody, syntax, method.Name);

            var containers = new List<ContainingType>();
            for (INamedTypeSymbol? type = method.ContainingType; type is not null; type = type.ContainingType)
            {
                bool isPartial = type.DeclaringSyntaxReferences
                    .Select(r => r.GetSyntax(token))
                    .OfType<TypeDeclarationSyntax>()
                    .Any(t => t.Modifiers.Any(SyntaxKind.PartialKeyword));
                if (!isPartial) Report(DiagnosticDescriptors.ContainingTypeMustBePartial, syntax, type.Name, method.Name);
                string typeParameters = type.TypeParameters.Length == 0 ? "" : "<" + string.Join(", ", type.TypeParameters.Select(t => t.Name)) + ">";
                containers.Insert(0, new ContainingType(Keyword(type), type.Name, Accessibility(type), typeParameters));
            }

            AttributeData attribute = ctx.Attributes[0];
            int cpuGrain = NamedInt(attribute, "CpuGrain", 4096);
            int groupSize = NamedInt(attribute, "GroupSize", 0);
            if (cpuGrain < 1) Report(DiagnosticDescriptors.InvalidTiling, syntax, method.Name, $"CpuGrain must be at least 1, not {cpuGrain}");
            if (groupSize < 0 || groupSize > 1024)
                Report(DiagnosticDescriptors.InvalidTiling, syntax, method.Name, $"GroupSize must be 0 (automatic) or 1..1024, not {groupSize}");

            var parameters = new List<KernelParameter>();
            if (method.Parameters.Length == 0)
                Report(DiagnosticDescriptors.FirstParameterMustBeIndex, syntax.ParameterList, method.Name);
            for (int i = 0; i < method.Parameters.Length; i++)
            {
                IParameterSymbol p = method.Parameters[i];
                SyntaxNode at = syntax.ParameterList.Parameters[i];
                string? extent = p.GetAttributes()
                    .FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ExtentAttributeName)?
                    .ConstructorArguments.FirstOrDefault().Value as string;

                if (i == 0)
                {
                    if (p.Type.SpecialType != SpecialType.System_Int32 || p.RefKind != RefKind.None)
                        Report(DiagnosticDescriptors.FirstParameterMustBeIndex, at, method.Name);
                    parameters.Add(new KernelParameter(Identifier(p.Name), ParameterKind.Index, "int", null));
                    continue;
                }

                if (System.Array.IndexOf(ReservedParameterNames, p.Name) >= 0 || p.Name.StartsWith("__", System.StringComparison.Ordinal))
                    Report(DiagnosticDescriptors.ReservedParameterName, at, p.Name, method.Name, string.Join(", ", ReservedParameterNames));

                if (p.RefKind != RefKind.None)
                {
                    Report(DiagnosticDescriptors.UnsupportedParameter, at, p.Name, method.Name, p.ToDisplayString());
                    continue;
                }

                if (p.Type is INamedTypeSymbol { IsGenericType: true } named
                    && named.ConstructedFrom.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) == ArrayViewName
                    && named.TypeArguments[0].IsUnmanagedType)
                {
                    string element = named.TypeArguments[0].ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
                    parameters.Add(new KernelParameter(Identifier(p.Name), ParameterKind.View, element, extent));
                    ReportNonIndexingUses(syntax, p, method.Name, ctx.SemanticModel, diagnostics, token);
                }
                else if (p.Type.IsUnmanagedType && p.Type.TypeKind != TypeKind.Pointer)
                {
                    if (extent is not null) Report(DiagnosticDescriptors.ExtentOnScalar, at, p.Name, method.Name);
                    parameters.Add(new KernelParameter(Identifier(p.Name), ParameterKind.Scalar, p.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), null));
                }
                else
                {
                    Report(DiagnosticDescriptors.UnsupportedParameter, at, p.Name, method.Name, p.Type.ToDisplayString());
                }
            }
            if (method.Parameters.Length - 1 > MaxParametersAfterIndex)
                Report(DiagnosticDescriptors.TooManyParameters, syntax.ParameterList, method.Name,
                    (method.Parameters.Length - 1).ToString(), MaxParametersAfterIndex.ToString());

            List<DeviceFunctionModel> deviceFunctions = CollectDeviceFunctions(syntax, ctx.SemanticModel, diagnostics, token);

            if (diagnostics.Count > 0)
                return new KernelResult(null, EquatableArray.From(diagnostics));

            string body = syntax.Body is not null
                ? syntax.Body.ToFullString()
                : "{ " + syntax.ExpressionBody!.Expression.ToFullString() + "; }";
            string[] usings = syntax.SyntaxTree.GetCompilationUnitRoot(token).Usings.Select(u => u.ToString()).ToArray();
            string host = method.Name.Substring(0, method.Name.Length - "Kernel".Length);
            string? ns = method.ContainingNamespace.IsGlobalNamespace ? null : method.ContainingNamespace.ToDisplayString();
            // The namespace keeps equally named containers in different namespaces apart.
            string hint = (ns is null ? "" : ns + ".") + string.Join(".", containers.Select(c => c.Name)) + "." + host + ".g.cs";

            var model = new KernelModel(hint, ns, EquatableArray.From(containers), EquatableArray.From(usings),
                method.Name, host, EquatableArray.From(parameters), body, cpuGrain, groupSize, EquatableArray.From(deviceFunctions));
            return new KernelResult(model, default);
        }

        /// <summary>
        /// The CPU implementation replaces each view by a raw pointer, so a view may only appear as
        /// the target of an element access; anything else (.Length, SubView, passing it on) is MAMA0005.
        /// </summary>
        private static void ReportNonIndexingUses(MethodDeclarationSyntax method, IParameterSymbol view, string kernel,
            SemanticModel model, List<DiagnosticInfo> diagnostics, CancellationToken token)
        {
            SyntaxNode? body = (SyntaxNode?)method.Body ?? method.ExpressionBody;
            if (body is null) return;
            foreach (IdentifierNameSyntax id in body.DescendantNodes().OfType<IdentifierNameSyntax>())
            {
                if (id.Identifier.ValueText != view.Name) continue;
                if (!SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(id, token).Symbol, view)) continue;
                if (id.Parent is ElementAccessExpressionSyntax access && access.Expression == id) continue;
                if (IsDeviceFunctionArgument(id, model, token)) continue;
                diagnostics.Add(Info(DiagnosticDescriptors.ViewUsedOtherThanIndexing, id.GetLocation(), view.Name, kernel));
            }
        }

        /// <summary>True when the identifier is passed whole as an argument to a [DeviceFunction] call.</summary>
        private static bool IsDeviceFunctionArgument(IdentifierNameSyntax id, SemanticModel model, CancellationToken token) =>
            id.Parent is ArgumentSyntax { Parent: ArgumentListSyntax { Parent: InvocationExpressionSyntax call } } arg
            && arg.Expression == id
            && model.GetSymbolInfo(call, token).Symbol is IMethodSymbol target
            && target.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == DeviceFunctionAttributeName);

        /// <summary>
        /// The [DeviceFunction] methods with view parameters declared next to the kernel (same type
        /// declaration, so an edit to one regenerates the kernel), rewritten for the CPU.
        /// </summary>
        private static List<DeviceFunctionModel> CollectDeviceFunctions(MethodDeclarationSyntax kernel, SemanticModel model,
            List<DiagnosticInfo> diagnostics, CancellationToken token)
        {
            var result = new List<DeviceFunctionModel>();
            if (kernel.Parent is not TypeDeclarationSyntax type) return result;
            foreach (MethodDeclarationSyntax m in type.Members.OfType<MethodDeclarationSyntax>())
            {
                if (model.GetDeclaredSymbol(m, token) is not IMethodSymbol symbol) continue;
                if (!symbol.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == DeviceFunctionAttributeName)) continue;
                if (!symbol.Parameters.Any(IsView)) continue;
                if (!symbol.IsStatic || symbol.IsGenericMethod || (m.Body is null && m.ExpressionBody is null) || symbol.Parameters.Any(p => p.RefKind != RefKind.None))
                {
                    diagnostics.Add(Info(DiagnosticDescriptors.UnsupportedParameter, m.Identifier.GetLocation(), symbol.Name, symbol.Name,
                        "a device function must be static, non-generic, have a body and take its parameters by value"));
                    continue;
                }
                foreach (IParameterSymbol p in symbol.Parameters.Where(IsView))
                    ReportNonIndexingUses(m, p, symbol.Name, model, diagnostics, token);
                string parameters = string.Join(", ", symbol.Parameters.Select(p =>
                    (IsView(p) ? ((INamedTypeSymbol)p.Type).TypeArguments[0].ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) + "*"
                               : p.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)) + " " + Identifier(p.Name)));
                string signature = symbol.ReturnType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) + " " + symbol.Name + "(" + parameters + ")";
                string body = m.Body is not null ? m.Body.ToFullString() : "{ return " + m.ExpressionBody!.Expression.ToFullString() + "; }";
                if (symbol.ReturnsVoid && m.Body is null) body = "{ " + m.ExpressionBody!.Expression.ToFullString() + "; }";
                result.Add(new DeviceFunctionModel(signature, body));
            }
            return result;
        }

        private static bool IsView(IParameterSymbol p) =>
            p.Type is INamedTypeSymbol { IsGenericType: true } named
            && named.ConstructedFrom.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) == ArrayViewName;

        /// <summary>A name as it must be written in code: keywords (a parameter declared @in) get their '@' back.</summary>
        private static string Identifier(string name) =>
            SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

        private static int NamedInt(AttributeData attribute, string name, int fallback)
        {
            foreach (KeyValuePair<string, TypedConstant> arg in attribute.NamedArguments)
                if (arg.Key == name && arg.Value.Value is int value) return value;
            return fallback;
        }

        private static string Keyword(INamedTypeSymbol type) => type switch
        {
            { IsRecord: true, IsValueType: true } => "record struct",
            { IsRecord: true } => "record",
            { IsValueType: true } => "struct",
            _ => "class",
        };

        private static string Accessibility(INamedTypeSymbol type) => type.DeclaredAccessibility switch
        {
            Microsoft.CodeAnalysis.Accessibility.Public => "public",
            Microsoft.CodeAnalysis.Accessibility.Private => "private",
            Microsoft.CodeAnalysis.Accessibility.Protected => "protected",
            Microsoft.CodeAnalysis.Accessibility.ProtectedOrInternal => "protected internal",
            Microsoft.CodeAnalysis.Accessibility.ProtectedAndInternal => "private protected",
            _ => "internal",
        };

        private static DiagnosticInfo Info(DiagnosticDescriptor descriptor, Location location, params string[] args)
        {
            FileLinePositionSpan span = location.GetLineSpan();
            return new DiagnosticInfo(descriptor.Id, span.Path, location.SourceSpan.Start, location.SourceSpan.Length,
                span.StartLinePosition.Line, span.StartLinePosition.Character, span.EndLinePosition.Line, span.EndLinePosition.Character,
                EquatableArray.From(args));
        }
    }
}
