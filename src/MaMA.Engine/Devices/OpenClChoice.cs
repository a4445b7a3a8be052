using ILGPU.Backends.OpenCL;
using ILGPU.Runtime.OpenCL;

namespace MaMA.Engine.Devices;

/// <summary>
/// Which OpenCL device the engine drives, and why it passes over the others.
/// <list type="bullet">
/// <item><c>--device opencl</c> takes the first usable GPU, else the first usable device of another
/// type (a CPU or accelerator runtime).</item>
/// <item><c>auto</c> takes an OpenCL device only when it is a GPU: on the engine's kernels a CPU
/// OpenCL runtime (PoCL, Intel's) is slower than the fast CPU backend, which <c>auto</c> then
/// picks.</item>
/// <item>ILGPU drives a device only with OpenCL C 2.0, or 3.0 with the generic address space (its
/// kernels use generic pointers); the others are listed with that reason, so a user whose
/// runtime is too old (Debian 12's PoCL 3.1, say) learns why there is no <c>opencl</c>.</item>
/// </list>
/// </summary>
internal static class OpenClChoice
{
    /// <summary>One OpenCL device as the choice sees it; <see cref="Refusal"/> is null when ILGPU can drive it.</summary>
    public readonly record struct Candidate(string Name, bool IsGpu, string? Refusal);

    /// <summary>The index of the device <c>--device opencl</c> takes, or -1 when none is usable.</summary>
    public static int Pick(IReadOnlyList<Candidate> devices)
    {
        int other = -1;
        for (int i = 0; i < devices.Count; i++)
        {
            if (devices[i].Refusal is not null) continue;
            if (devices[i].IsGpu) return i;
            if (other < 0) other = i;
        }
        return other;
    }

    /// <summary>Whether <c>auto</c> may take the picked device: a GPU only.</summary>
    public static bool AutoTakes(Candidate device) => device.Refusal is null && device.IsGpu;

    /// <summary>Why ILGPU cannot drive a device of this OpenCL C version, or null when it can.</summary>
    public static string? Refusal(CLCVersion clStdVersion, bool genericAddressSpace) =>
        clStdVersion >= CLBackend.MinimumVersion && genericAddressSpace
            ? null
            : $"OpenCL C {clStdVersion.Major}.{clStdVersion.Minor} without the generic address space; ILGPU needs OpenCL C 2.0, or 3.0 with it";

    /// <summary>The candidate for a device ILGPU enumerated.</summary>
    public static Candidate Of(CLDevice device) =>
        new(device.Name.Trim(), device.DeviceType.HasFlag(CLDeviceType.CL_DEVICE_TYPE_GPU),
            Refusal(device.CLStdVersion, device.Capabilities.GenericAddressSpace));

    /// <summary>
    /// Every OpenCL device of every platform, usable or not (an empty list without an OpenCL
    /// runtime: ILGPU hides the loader's absence).
    /// </summary>
    public static IReadOnlyList<Candidate> Enumerate() =>
        CLDevice.GetDevices(_ => true).OfType<CLDevice>().Select(Of).ToArray();
}
