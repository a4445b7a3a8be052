using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// <c>mama op clip_loss</c>: image [N, E] and text [N, E] (F32, BF16 or F16; already
/// L2-normalised, the op does not normalise), 0-d <c>logit_scale</c> (the log of the scale)
/// -> <c>loss</c> (0-d F32) = CE(s image text^T) + CE(s text image^T), s = exp(logit_scale).
/// Differentiable: image, text, logit_scale.
/// </summary>
internal sealed class ClipLossOp : IReferenceOp
{
    public string Name => "clip_loss";

    public IReadOnlyList<string> DifferentiableInputs { get; } = ["image", "text", "logit_scale"];

    public IReadOnlyDictionary<string, Tensor> Run(OpArguments args)
    {
        Tensor image = args.Tensor("image", rank: 2), text = args.Tensor("text", rank: 2);
        args.SameSize("image", 0, "text", 0);
        args.SameSize("image", 1, "text", 1);
        if (image.Size(0) == 0) throw new UsageException("clip_loss: 'image' and 'text' hold no pairs (N = 0).");
        Tensor logitScale = args.Tensor("logit_scale");
        if (logitScale.Numel != 1)
            throw new UsageException($"clip_loss: 'logit_scale' must be a 0-d tensor (the log of the scale), got shape {Shape.Format(logitScale.Shape)}.");
        return new Dictionary<string, Tensor> { ["loss"] = Losses.ClipLoss(image, text, logitScale) };
    }
}
