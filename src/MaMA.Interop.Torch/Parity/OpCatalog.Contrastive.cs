using MaMA.Engine;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// The contrastive losses (<see cref="Losses.ClipLoss"/>, <see cref="Losses.InterViewContrast"/>)
/// against their literal PyTorch forms: CLIP as two F.cross_entropy calls over s v t^T and its
/// transpose, NT-Xent built block by block with torch.cat and the self-similarity diagonals
/// removed (SPEC 6, as in MaMA's loss.py). CLIP inputs are normalised inside both computations,
/// so the gradients include the normalisation; the log-scale is a differentiable 0-d input.
/// </summary>
public static partial class OpCatalog
{
    /// <summary>MaMA's initial logit scale, log(1 / 0.07).</summary>
    private const float ClipInitLogScale = 2.65926f;

    static partial void AddContrastiveFamily(List<OpCase> cases)
    {
        // fp32: 1e-4 on the loss and every gradient.
        AddClip(cases, "clip_loss", n: 17, e: 33, logScaleShift: 0f);
        // The paper's initial scale (1 / 0.07 times e^N(0,1)): sharp softmaxes.
        AddClip(cases, "clip_loss_init_scale", n: 17, e: 33, logScaleShift: ClipInitLogScale);
        AddClip(cases, "clip_loss_one_pair", n: 1, e: 7, logScaleShift: 0f, differentiable: false);
        AddNtXent(cases, "ntxent_loss", n: 13, e: 20, temperature: 0.5f);
        AddNtXent(cases, "ntxent_loss_tau_0_1", n: 13, e: 20, temperature: 0.1f);
        AddNtXent(cases, "ntxent_loss_n33", n: 33, e: 17, temperature: 0.5f);

        // bf16 inputs (both sides round the same inputs to bf16, then compute in fp32): 2e-2.
        AddClip(cases, "clip_loss_bf16", n: 17, e: 33, logScaleShift: 0f, bf16: true);
        AddNtXent(cases, "ntxent_loss_bf16", n: 13, e: 20, temperature: 0.5f, bf16: true);
    }

    /// <summary>
    /// CLIP over normalised v, t [n, e] and the log-scale (drawn from N(0, 1), plus
    /// <paramref name="logScaleShift"/>). With one pair every log-softmax is 0 and so is every
    /// gradient: only the loss is compared there.
    /// </summary>
    private static void AddClip(List<OpCase> cases, string name, int n, int e, float logScaleShift, bool bf16 = false, bool differentiable = true)
    {
        cases.Add(new(name, [new("image", [n, e], Differentiable: differentiable), new("text", [n, e], Differentiable: differentiable), new("logit_scale", [], Differentiable: differentiable, GradFloor: 1e-2)],
            x =>
            {
                EngineTensor v = Ops.L2Normalize(x[0]), t = Ops.L2Normalize(x[1]), ls = Ops.Affine(x[2], 1f, logScaleShift);
                return bf16
                    ? Losses.ClipLoss(v.To(DType.BFloat16), t.To(DType.BFloat16), ls.To(DType.BFloat16))
                    : Losses.ClipLoss(v, t, ls);
            },
            x =>
            {
                using Scalar shift = logScaleShift.ToScalar();
                TorchTensor v = nn.functional.normalize(x[0], dim: -1), t = nn.functional.normalize(x[1], dim: -1), ls = x[2].add(shift);
                return bf16
                    ? TorchClipLoss(ContrastiveBf16(v), ContrastiveBf16(t), ContrastiveBf16(ls))
                    : TorchClipLoss(v, t, ls);
            },
            Tolerance: bf16 ? 2e-2 : 1e-4,
            GradTolerance: bf16 ? 2e-2 : 1e-4));
    }

    /// <summary>NT-Xent over unnormalised z0, z1 [n, e] (the op normalises).</summary>
    private static void AddNtXent(List<OpCase> cases, string name, int n, int e, float temperature, bool bf16 = false)
    {
        cases.Add(new(name, [new("z0", [n, e]), new("z1", [n, e])],
            x => bf16
                ? Losses.InterViewContrast(x[0].To(DType.BFloat16), x[1].To(DType.BFloat16), temperature)
                : Losses.InterViewContrast(x[0], x[1], temperature),
            x => bf16
                ? TorchNtXentLoss(ContrastiveBf16(x[0]), ContrastiveBf16(x[1]), temperature)
                : TorchNtXentLoss(x[0], x[1], temperature),
            Tolerance: bf16 ? 2e-2 : 1e-4,
            GradTolerance: bf16 ? 2e-2 : 1e-4));
    }

    /// <summary>Rounds to bf16 and back (the bf16 input both sides compute from).</summary>
    private static TorchTensor ContrastiveBf16(TorchTensor x) => x.to(ScalarType.BFloat16).to(ScalarType.Float32);

    /// <summary>
    /// CLIP as PyTorch code writes it: logits = exp(logit_scale) * v @ t^T, then
    /// F.cross_entropy(logits, arange) + F.cross_entropy(logits^T, arange).
    /// </summary>
    public static TorchTensor TorchClipLoss(TorchTensor image, TorchTensor text, TorchTensor logitScale)
    {
        TorchTensor logits = logitScale.exp() * image.matmul(text.t());
        TorchTensor labels = ContrastiveLabels(image.shape[0], repeats: 1);
        return nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.t(), labels);
    }

    /// <summary>
    /// NT-Xent literally as SPEC 6 (and MaMA's loss.py): z0 = normalize(z0), z1 = normalize(z1);
    /// A = z0 z0^T, X = z0 z1^T, Y = z1 z0^T, Z = z1 z1^T, all / tau; A and Z lose their diagonals
    /// ([n, n - 1]); logits = cat([cat([X, A], 1), cat([Y, Z], 1)], 0) [2n, 2n - 1]; targets
    /// arange(n) twice; F.cross_entropy (mean).
    /// </summary>
    public static TorchTensor TorchNtXentLoss(TorchTensor z0, TorchTensor z1, float temperature)
    {
        long n = z0.shape[0];
        using Scalar tau = temperature.ToScalar();
        TorchTensor a = nn.functional.normalize(z0, dim: 1), b = nn.functional.normalize(z1, dim: 1);
        TorchTensor offDiagonal = eye(n, dtype: ScalarType.Bool).logical_not();
        TorchTensor l00 = a.matmul(a.t()).div(tau);
        TorchTensor l01 = a.matmul(b.t()).div(tau);
        TorchTensor l10 = b.matmul(a.t()).div(tau);
        TorchTensor l11 = b.matmul(b.t()).div(tau);
        l00 = l00.masked_select(offDiagonal).view(n, n - 1);
        l11 = l11.masked_select(offDiagonal).view(n, n - 1);
        TorchTensor logits = cat([cat([l01, l00], 1), cat([l10, l11], 1)], 0);
        return nn.functional.cross_entropy(logits, ContrastiveLabels(n, repeats: 2));
    }

    /// <summary>
    /// Targets 0 .. n - 1, <paramref name="repeats"/> times, as int64 (torch.arange(n).repeat(r)),
    /// made from an array. The references take no implicit Scalar conversions: TorchSharp frees
    /// such temporaries from the finalizer, which can run while libtorch still reads them.
    /// </summary>
    private static TorchTensor ContrastiveLabels(long n, int repeats) =>
        tensor(Enumerable.Range(0, repeats).SelectMany(_ => Enumerable.Range(0, (int)n)).Select(i => (long)i).ToArray());
}
