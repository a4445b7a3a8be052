namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// The four MaMA kernel families at the paper's real shapes, for benchmarks (engine vs libtorch):
/// attention B=2 T=1374 H=12 D=64 and B=4 T=144 H=20 D=128 causal; LoRA M=576 in=2560 out=7680
/// r=8; SLA N=36 P=1369 S&lt;=12 E=512; CLIP and NT-Xent N=288 E=512. Each family adds its cases
/// in FamilyBench.{Family}.cs; the engine and libtorch computations are those of the parity cases.
/// </summary>
public static partial class FamilyBench
{
    public static IReadOnlyList<OpCase> All { get; } = Build();

    private static List<OpCase> Build()
    {
        var cases = new List<OpCase>();
        AddAttention(cases);
        AddLora(cases);
        AddLocalAlignment(cases);
        AddContrastive(cases);
        return cases;
    }

    static partial void AddAttention(List<OpCase> cases);

    static partial void AddLora(List<OpCase> cases);

    static partial void AddLocalAlignment(List<OpCase> cases);

    static partial void AddContrastive(List<OpCase> cases);
}
