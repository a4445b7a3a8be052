using System.Runtime.InteropServices;

namespace MaMA.GoldenGen;

/// <summary>
/// Makes libtorch's MKL take one fixed code path before anything loads it. Without this, MKL picks
/// kernels by CPU and by the alignment of each buffer, so the same single-threaded computation could
/// differ in the last bits from run to run: three reruns of the generator changed
/// <c>attention_causal</c>, <c>attention_bidirectional</c> and <c>attention_vit_head_d64</c> by up to
/// 6e-7 (2026-11-29). With <c>MKL_CBWR=COMPATIBLE</c> (MKL's conditional numerical reproducibility)
/// seven reruns were byte-identical, and MKL documents that path as the same on any x86 CPU; the
/// generator's small cases run in under a second either way.
/// MKL reads the variable from the native environment, which <see cref="Environment.SetEnvironmentVariable(string, string)"/>
/// does not change on Linux, hence setenv.
/// </summary>
internal static partial class NumericalReproducibility
{
    public const string Variable = "MKL_CBWR";
    public const string Value = "COMPATIBLE";

    /// <summary>Sets MKL_CBWR=COMPATIBLE unless the caller set it; returns the value in force.</summary>
    public static string Pin()
    {
        string? given = Environment.GetEnvironmentVariable(Variable);
        if (given is { Length: > 0 }) return given;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            if (SetEnv(Variable, Value, 1) != 0) throw new GoldenGenException($"could not set {Variable}={Value} (setenv failed)");
        }
        Environment.SetEnvironmentVariable(Variable, Value);
        return Value;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
