using MaMA.Engine;
using MaMA.Engine.Losses;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// SLA at MaMA's shape: N = 36 image-report pairs, P = 1369 patches (37 x 37), E = 512, S_m from
/// 4 to 12 sentences (a fixed pattern, 288 rows in all). Output: L_t2i + L_i2t. The inputs are
/// used as drawn (not normalised), so the timing is the op's alone; libtorch runs the
/// straightforward form that builds the [N, P, sum S] similarity tensor.
/// </summary>
public static partial class FamilyBench
{
    static partial void AddLocalAlignment(List<OpCase> cases)
    {
        const int n = 36, p = 1369, e = 512;
        long[] offsets = OpCatalog.SlaOffsets(Enumerable.Range(0, n).Select(m => 4 + m * 5 % 9).ToArray());
        int rows = (int)offsets[^1];
        cases.Add(new("sla_loss_n36_p1369_e512",
            [new("patches", [n, p, e]), new("sentences", [rows, e]), new("local_scale", [])],
            x =>
            {
                EngineTensor offsetsTensor = EngineTensor.FromArray(offsets, [offsets.Length], x[0].Device);
                SymmetricLocalAlignmentResult res = Losses.SymmetricLocalAlignment(x[0], x[1], offsetsTensor, x[2]);
                return Ops.Add(res.LossT2I, res.LossI2T);
            },
            x =>
            {
                var res = OpCatalog.SlaReference(x[0], x[1], offsets, x[2]);
                return res.LossT2I + res.LossI2T;
            }, Tolerance: 1e-4, GradTolerance: 1e-4));
    }
}
