using MaMA.Kernels.TensorCore;

namespace MaMA.Generators.Tests.Ptx;

/// <summary>
/// <c>MAMA_PTX_DUMP=DIR</c> keeps each kernel's PTX as the PTX tests compile it: <c>DIR/NAME.ptx</c>,
/// and for the tensor-core kernels also <c>DIR/NAME.promoted.ptx</c>, what CUDA loads after
/// <see cref="PtxLocalSlots"/>. <c>tools/ptx-report.sh</c> runs <c>ptxas -v</c> over them
/// (registers, stack frames, spills) without a GPU; <c>tools/device-bench.sh</c> does on a card.
/// </summary>
internal static class PtxDump
{
    public static void Keep(string name, string ptx, bool promoted = false)
    {
        if (Environment.GetEnvironmentVariable("MAMA_PTX_DUMP") is not { Length: > 0 } dump) return;
        Directory.CreateDirectory(dump);
        File.WriteAllText(Path.Combine(dump, name + ".ptx"), ptx);
        if (promoted) File.WriteAllText(Path.Combine(dump, name + ".promoted.ptx"), PtxLocalSlots.Promote(ptx).Ptx);
    }
}
