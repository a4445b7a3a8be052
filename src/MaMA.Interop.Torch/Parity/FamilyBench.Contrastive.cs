using MaMA.Bench.Cases;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// The contrastive losses: CLIP as eager matmul, exp scale and two F.cross_entropy calls, NT-Xent as
/// the literal block-by-block construction with torch.cat (see <see cref="OpCatalog.TorchClipLoss"/>
/// and <see cref="OpCatalog.TorchNtXentLoss"/>).
/// </summary>
public static partial class FamilyBench
{
    private static Func<TorchTensor[], TorchTensor> Clip() => x => OpCatalog.TorchClipLoss(x[0], x[1], x[2]);

    private static Func<TorchTensor[], TorchTensor> NtXent(NtXentCase n) => x => OpCatalog.TorchNtXentLoss(x[0], x[1], n.Temperature);
}
