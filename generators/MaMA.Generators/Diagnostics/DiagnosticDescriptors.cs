using Microsoft.CodeAnalysis;

namespace MaMA.Generators.Diagnostics
{
    /// <summary>All diagnostics of MaMA.Generators. Ids are stable: never renumber, only add.</summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "MaMA.Kernels";

        public static readonly DiagnosticDescriptor KernelMustBeStatic = new DiagnosticDescriptor(
            "MAMA0001", "Kernel method must be static", "Kernel method '{0}' must be static", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor KernelNameSuffix = new DiagnosticDescriptor(
            "MAMA0002", "Kernel method name must end in 'Kernel'",
            "Kernel method '{0}' must end in 'Kernel'; the generated host type takes the name without the suffix", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor FirstParameterMustBeIndex = new DiagnosticDescriptor(
            "MAMA0003", "First kernel parameter must be the int index",
            "Kernel method '{0}' must take the launch index as its first parameter, of type int", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor UnsupportedParameter = new DiagnosticDescriptor(
            "MAMA0004", "Unsupported kernel parameter",
            "Parameter '{0}' of kernel '{1}' has unsupported type '{2}'; use ArrayView<T> of an unmanaged T or an unmanaged scalar, passed by value",
            Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor ViewUsedOtherThanIndexing = new DiagnosticDescriptor(
            "MAMA0005", "Kernel views may only be indexed",
            "View '{0}' in kernel '{1}' may only be indexed (x[i]); pass sizes as scalar parameters instead of using view members",
            Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor KernelMustReturnVoid = new DiagnosticDescriptor(
            "MAMA0006", "Kernel method must return void", "Kernel method '{0}' must return void", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor ContainingTypeMustBePartial = new DiagnosticDescriptor(
            "MAMA0007", "Kernel container must be partial",
            "Type '{0}' contains kernel '{1}' and must be declared partial (and so must every type around it)", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor InvalidTiling = new DiagnosticDescriptor(
            "MAMA0008", "Invalid kernel tiling",
            "Kernel '{0}': {1}", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor GenericKernel = new DiagnosticDescriptor(
            "MAMA0009", "Kernel method must not be generic",
            "Kernel method '{0}' must not be generic; declare one kernel per element type", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor KernelNeedsBody = new DiagnosticDescriptor(
            "MAMA0010", "Kernel method needs a body", "Kernel method '{0}' needs a body", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor ExtentOnScalar = new DiagnosticDescriptor(
            "MAMA0011", "[Extent] applies to views only",
            "Parameter '{0}' of kernel '{1}' is not a view; [Extent] only describes view lengths", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor TooManyParameters = new DiagnosticDescriptor(
            "MAMA0012", "Too many kernel parameters",
            "Kernel '{0}' has {1} parameters after the index; generated launchers take at most {2}", Category, DiagnosticSeverity.Error, true);

        public static readonly DiagnosticDescriptor ReservedParameterName = new DiagnosticDescriptor(
            "MAMA0013", "Kernel parameter name is reserved",
            "Parameter '{0}' of kernel '{1}' uses a name the generated host type needs ({2}, or any name starting with '__'); rename it",
            Category, DiagnosticSeverity.Error, true);

        public static DiagnosticDescriptor? ById(string id)
        {
            switch (id)
            {
                case "MAMA0001": return KernelMustBeStatic;
                case "MAMA0002": return KernelNameSuffix;
                case "MAMA0003": return FirstParameterMustBeIndex;
                case "MAMA0004": return UnsupportedParameter;
                case "MAMA0005": return ViewUsedOtherThanIndexing;
                case "MAMA0006": return KernelMustReturnVoid;
                case "MAMA0007": return ContainingTypeMustBePartial;
                case "MAMA0008": return InvalidTiling;
                case "MAMA0009": return GenericKernel;
                case "MAMA0010": return KernelNeedsBody;
                case "MAMA0011": return ExtentOnScalar;
                case "MAMA0012": return TooManyParameters;
                case "MAMA0013": return ReservedParameterName;
                default: return null;
            }
        }
    }
}
