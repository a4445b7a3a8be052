using MaMA.Bench.Cases;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// SLA: libtorch runs the straightforward form that builds the [N, P, sum S] similarity tensor
/// (<see cref="OpCatalog.SlaReference"/>); output L_t2i + L_i2t.
/// </summary>
public static partial class FamilyBench
{
    private static Func<TorchTensor[], TorchTensor> LocalAlignment(LocalAlignmentCase s)
    {
        long[] offsets = s.Offsets();
        return x =>
        {
            var res = OpCatalog.SlaReference(x[0], x[1], offsets, x[2]);
            return res.LossT2I + res.LossI2T;
        };
    }
}
