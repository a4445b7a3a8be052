namespace MaMA.Kernels;

/// <summary>
/// Declares a compute kernel once. The method is the per-index body: its first parameter is the
/// <c>int</c> index into a 1-D launch domain, the rest are <c>ArrayView&lt;T&gt;</c> buffers (T unmanaged)
/// and scalars. MaMA.Generators turns it into:
/// <list type="bullet">
///   <item>an ILGPU entry point (CUDA, OpenCL, ILGPU CPU simulator),</item>
///   <item>a typed launcher <c>{Name}.Launch(stream, count, ...)</c> that loads the kernel once per
///         accelerator and validates argument extents,</item>
///   <item>a multi-threaded CPU implementation <c>{Name}.RunCpu(count, ...)</c> over raw pointers.</item>
/// </list>
/// The method name must end in <c>Kernel</c>; the generated host type drops that suffix
/// (ILGPU convention: device code ends in Kernel, the host launcher has the plain name).
/// The body must be valid ILGPU device code: no allocation, no exceptions, no virtual calls,
/// and no <c>.Length</c> on views (pass sizes as scalars, so the CPU pointer copy stays valid).
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false, AllowMultiple = false)]
public sealed class KernelAttribute : Attribute
{
    /// <summary>
    /// Indices handled by one CPU work item. Elementwise kernels want thousands; kernels whose
    /// index is a whole row (a reduction over C) want 1-16.
    /// </summary>
    public int CpuGrain { get; set; } = 4096;

    /// <summary>
    /// Threads per group on accelerators; 0 lets ILGPU choose (auto-grouped launch).
    /// </summary>
    public int GroupSize { get; set; }
}

/// <summary>
/// The minimal number of elements a view parameter must have, as a C# expression over the
/// kernel's scalar parameters and <c>count</c> (the launch size). The launcher checks it
/// before every launch and throws <see cref="ArgumentException"/> naming the parameter.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, Inherited = false, AllowMultiple = false)]
public sealed class ExtentAttribute(string expression) : Attribute
{
    public string Expression { get; } = expression;
}

/// <summary>
/// Marks a static helper that kernels in the same type declaration call with views
/// (<c>ArrayView&lt;T&gt;</c> parameters). On accelerators ILGPU inlines it as is; for the CPU
/// implementation the generator emits a twin inside each kernel's host type with every view
/// parameter turned into a pointer, so the same rule applies: views are only indexed or passed
/// on to other device functions. Helpers without view parameters need no attribute.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false, AllowMultiple = false)]
public sealed class DeviceFunctionAttribute : Attribute
{
}
