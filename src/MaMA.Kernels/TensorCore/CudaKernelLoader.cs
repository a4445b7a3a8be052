using System.Reflection;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Loads an explicitly grouped tensor-core kernel on CUDA with its PTX passed through
/// <see cref="PtxLocalSlots"/> first, so the mma fragments stay in registers.
///
/// ILGPU 1.5.3 has no hook between code generation and module loading, so this compiles the kernel
/// with a PTX backend for the accelerator's own architecture and instruction set (what the
/// accelerator's internal backend uses), rewrites the text, and loads the result through the public
/// <c>Accelerator.LoadKernel(CompiledKernel)</c>. The one non-public step is giving the freshly
/// compiled <see cref="PTXCompiledKernel"/> the new text (its PTXAssembly has no setter and its
/// constructor is internal); an ILGPU version that changes that fails here with a message, not silently.
/// </summary>
public static class CudaKernelLoader
{
    /// <summary>
    /// The launcher <typeparamref name="TDelegate"/> (Action&lt;AcceleratorStream, KernelConfig, args...&gt;)
    /// of <paramref name="kernel"/> on <paramref name="accelerator"/>.
    /// </summary>
    public static TDelegate Load<TDelegate>(CudaAccelerator accelerator, MethodInfo kernel) where TDelegate : Delegate
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(kernel);
        TensorCoreSupport.Require(accelerator, kernel.DeclaringType?.Name + "." + kernel.Name);
        PTXCompiledKernel compiled;
        using (var backend = new PTXBackend(accelerator.Context, accelerator.Capabilities, accelerator.Architecture, accelerator.InstructionSet, null))
            compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), KernelSpecialization.Empty);
        Kernel loaded = accelerator.LoadKernel(WithAssembly(compiled, PtxLocalSlots.Promote(compiled.PTXAssembly).Ptx));
        return loaded.CreateLauncherDelegate<TDelegate>();
    }

    /// <summary><paramref name="compiled"/> (a fresh object of ours) carrying other PTX text.</summary>
    private static PTXCompiledKernel WithAssembly(PTXCompiledKernel compiled, string ptx)
    {
        FieldInfo? field = typeof(PTXCompiledKernel).GetField("<PTXAssembly>k__BackingField", BindingFlags.Instance | BindingFlags.NonPublic);
        if (field is null || field.FieldType != typeof(string))
            throw new MissingFieldException("PTXCompiledKernel.PTXAssembly's field was not found: this loader is written for ILGPU 1.5.3.");
        field.SetValue(compiled, ptx);
        return compiled;
    }
}
