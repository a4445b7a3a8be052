using System.Text.RegularExpressions;

namespace MaMA.Generators.Tests.Ptx;

/// <summary>
/// No device kernel computes in float64. The engine's kernels are fp32 and bf16 throughout; a
/// float64 instruction in their PTX is an accident of the C# source, and the usual one is a
/// conversion: C# converts uint to float through <c>conv.r.un</c>, which ILGPU compiles to
/// <c>cvt.rn.f64.u32</c> then <c>cvt.rn.f32.f64</c>. Consumer and workstation cards run float64 at
/// 1/32 to 1/64 of the float32 rate, and OpenCL devices without cl_khr_fp64 refuse such a kernel
/// (<see cref="OpenCL.OpenClCompilationTests"/>). The tensor-core attention kernels carried 128 to
/// 256 of these instructions, two per dropout draw, until <c>Philox.ToUniform</c> went through int.
/// </summary>
internal static class PtxFloat64
{
    private static readonly Regex Float64 = new(@"^\s*[a-z][\w.]*\.f64\b.*$", RegexOptions.Multiline | RegexOptions.Compiled);

    /// <summary>The instructions of <paramref name="ptx"/> with a float64 operand type (declarations such as <c>.reg .f64</c> are not instructions).</summary>
    public static IReadOnlyList<string> Instructions(string ptx) =>
        Float64.Matches(ptx).Select(m => m.Value.Trim()).ToArray();

    public static void AssertNone(string ptx, string kernel)
    {
        IReadOnlyList<string> found = Instructions(ptx);
        Assert.That(found, Is.Empty,
            $"{kernel}: {found.Count} float64 lines in its PTX (a uint-to-float conversion? write (int)u or (long)u), first: "
            + string.Join(" | ", found.Take(4)));
    }
}
