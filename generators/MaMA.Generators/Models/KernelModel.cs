namespace MaMA.Generators.Models
{
    /// <summary>How a kernel parameter is passed: the launch index, a buffer, or a scalar.</summary>
    internal enum ParameterKind
    {
        Index,
        View,
        Scalar,
    }

    /// <summary>
    /// One kernel parameter. <see cref="ElementType"/> is the fully qualified element type of a view
    /// or the type of a scalar; <see cref="Extent"/> is the [Extent] expression of a view, if any.
    /// </summary>
    internal sealed record KernelParameter(string Name, ParameterKind Kind, string ElementType, string? Extent);

    /// <summary>
    /// A containing type of the kernel, outermost first (the generated code reopens each).
    /// <see cref="TypeParameters"/> is "" or the parameter list, e.g. "&lt;T, U&gt;".
    /// </summary>
    internal sealed record ContainingType(string Keyword, string Name, string Accessibility, string TypeParameters);

    /// <summary>
    /// Everything the emitter needs to write one kernel's {Name}.g.cs; value-equal so unchanged
    /// declarations produce equal models and are not regenerated.
    /// </summary>
    internal sealed record KernelModel(
        string HintName,
        string? Namespace,
        EquatableArray<ContainingType> Containers,
        EquatableArray<string> Usings,
        string KernelMethod,
        string HostName,
        EquatableArray<KernelParameter> Parameters,
        string Body,
        int CpuGrain,
        int GroupSize,
        EquatableArray<DeviceFunctionModel> DeviceFunctions);

    /// <summary>
    /// A [DeviceFunction] helper with view parameters, ready to be re-emitted for the CPU:
    /// <see cref="Signature"/> already has pointers in place of views.
    /// </summary>
    internal sealed record DeviceFunctionModel(string Signature, string Body);

    /// <summary>A diagnostic stored by value (Location is not equatable across compilations).</summary>
    internal sealed record DiagnosticInfo(string Id, string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn, EquatableArray<string> Arguments);

    /// <summary>Result of looking at one [Kernel] method: a model, or the reasons it is invalid.</summary>
    internal sealed record KernelResult(KernelModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);
}
