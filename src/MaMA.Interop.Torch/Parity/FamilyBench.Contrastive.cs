using MaMA.Engine.Losses;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// The contrastive losses at MaMA's micro-batch (N = 288 pairs, E = 512): CLIP over the given
/// embeddings and log-scale (libtorch: eager matmul, exp scale and two F.cross_entropy calls), and
/// NT-Xent over unnormalised head outputs (libtorch: the literal block-by-block construction with
/// torch.cat, see <see cref="OpCatalog.TorchNtXentLoss"/>).
/// </summary>
public static partial class FamilyBench
{
    static partial void AddContrastive(List<OpCase> cases)
    {
        const int n = 288, e = 512;
        cases.Add(new("clip_loss N288 E512", [new("image", [n, e]), new("text", [n, e]), new("logit_scale", [])],
            x => Losses.ClipLoss(x[0], x[1], x[2]),
            x => OpCatalog.TorchClipLoss(x[0], x[1], x[2])));
        cases.Add(new("ntxent_loss N288 E512 tau0.5", [new("z0", [n, e]), new("z1", [n, e])],
            x => Losses.InterViewContrast(x[0], x[1], 0.5f),
            x => OpCatalog.TorchNtXentLoss(x[0], x[1], 0.5f)));
    }
}
