using MaMA.Engine.Autograd;
using MaMA.Engine.Losses;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;

namespace MaMA.Evaluation.Golden;

/// <summary>The named outputs of one evaluation-mode forward and the inputs it did not use.</summary>
public sealed record NamedForwardResult(IReadOnlyDictionary<string, Tensor> Outputs, IReadOnlyList<string> UnusedInputs);

/// <summary>
/// The forward that <c>mama forward</c> runs and that golden outputs record: a model folder's module
/// (dinov2, gpt2 or mama) in evaluation mode, without gradients, on named inputs, giving the
/// named outputs whose inputs are present (see docs/models.md):
/// <list type="bullet">
/// <item>dinov2: <c>pixel_values</c> [B, 3, H, W] -> <c>x_prenorm</c>, <c>x_norm</c> [B, T, C];</item>
/// <item>gpt2: <c>input_ids</c> [B, T] (+ <c>attention_mask</c>) -> <c>text_hidden</c> [B, T, C];</item>
/// <item>mama: images -> <c>x_prenorm</c>, <c>x_norm</c>, <c>image_embedding</c> [B, E],
/// <c>patch_embedding</c> [B, P, E]; reports -> <c>text_hidden</c>, <c>text_embedding</c>,
/// <c>sentence_embedding</c> [sum S, E], <c>sentence_offsets</c> [B + 1]; both ->
/// <c>loss_clip_v1</c> and the retrieval accuracies <c>i2t_acc1/5</c>, <c>t2i_acc1/5</c>; with
/// <c>pixel_values_2</c> the whole training forward at <c>step</c> (default: the late-loss step):
/// <c>loss</c> and every term.</item>
/// </list>
/// Bad inputs are <see cref="ForwardInputException"/>s naming the tensor.
/// </summary>
public static class NamedForward
{
    /// <summary>Switches <paramref name="model"/> to evaluation mode and runs it on <paramref name="inputs"/> (no gradients).</summary>
    public static NamedForwardResult Run(Module model, ModelConfigFile config, IReadOnlyDictionary<string, Tensor> inputs, long? step = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(inputs);
        model.Eval();
        var named = new ForwardInputs(inputs);
        Dictionary<string, Tensor> outputs;
        using (GradMode.NoGrad())
        {
            outputs = model switch
            {
                DinoVisionTransformer vit => RunVision(vit, named),
                IGpt2TextModel gpt => RunText(gpt, config.Text!, named),
                MaMAModel mama => RunMaMA(mama, named, step),
                _ => throw new InvalidDataException($"a {model.GetType().Name} has no named forward (dinov2, gpt2 and mama models do)."),
            };
        }
        return new NamedForwardResult(outputs, named.Unused().ToArray());
    }

    private static Dictionary<string, Tensor> RunVision(DinoVisionTransformer vit, ForwardInputs inputs)
    {
        Tensor pixels = inputs.Pixels("pixel_values", vit.Config) ?? throw new ForwardInputException("a dinov2 model needs 'pixel_values' [B, 3, H, W] in the input file.");
        VisionOutput o = vit.Forward(pixels);
        return new(StringComparer.Ordinal) { ["x_prenorm"] = o.XPrenorm, ["x_norm"] = o.XNorm };
    }

    private static Dictionary<string, Tensor> RunText(IGpt2TextModel gpt, Gpt2Config config, ForwardInputs inputs)
    {
        (Tensor ids, Tensor mask) = inputs.Tokens(config) ?? throw new ForwardInputException("a gpt2 model needs 'input_ids' [B, T] (and 'attention_mask') in the input file.");
        return new(StringComparer.Ordinal) { ["text_hidden"] = gpt.Forward(ids, mask) };
    }

    private static Dictionary<string, Tensor> RunMaMA(MaMAModel model, ForwardInputs inputs, long? step)
    {
        MaMAConfig config = model.Config;
        Tensor? pixels = inputs.Pixels("pixel_values", config.Vision);
        Tensor? pixels2 = inputs.Pixels("pixel_values_2", config.Vision);
        (Tensor Ids, Tensor Mask)? tokens = inputs.Tokens(config.Text);
        if (pixels2 is not null && (pixels is null || tokens is null))
            throw new ForwardInputException("'pixel_values_2' (the second view, for the loss terms) needs 'pixel_values' and 'input_ids' too.");
        if (pixels is null && tokens is null)
            throw new ForwardInputException("a mama model needs 'pixel_values' [B, 3, H, W] and/or 'input_ids' [B, T] in the input file.");
        if (pixels2 is not null && !Shape.SameShape(pixels2.Shape, pixels!.Shape))
            throw new ForwardInputException($"'pixel_values_2' has shape {Shape.Format(pixels2.Shape)} but 'pixel_values' has {Shape.Format(pixels.Shape)}; the two views must match.");
        if (pixels is not null && tokens is { } tk && tk.Ids.Shape[0] != pixels.Shape[0])
            throw new ForwardInputException($"'pixel_values' holds {pixels.Shape[0]} images but 'input_ids' {tk.Ids.Shape[0]} reports; pairs need the same B.");
        if (tokens is { } t) RequireSentences(t.Ids, config.SepTokenId);

        var outputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        ImageEncoding? image;
        TextEncoding? text;
        Tensor? patches = null, sentences = null;
        if (pixels2 is not null)
        {
            // The whole training forward in evaluation mode: every loss term from the late-loss
            // step on (the default step), CLIP(v1, t) alone before it.
            (Tensor ids, Tensor mask) = tokens!.Value;
            MaMAOutput o = model.Forward(new MaMABatch(pixels!, ids, mask, pixels2), step ?? config.LateLossStep);
            image = o.Image;
            text = o.Text;
            patches = o.PatchEmbedding;
            sentences = o.SentenceEmbedding;
            outputs["loss"] = o.Loss;
            outputs["loss_clip_v1"] = o.LossClipV1;
            if (o.Late)
            {
                outputs["loss_clip_v2"] = o.LossClipV2!;
                outputs["loss_ntxent"] = o.LossNtXent!;
                outputs["loss_sla_t2i"] = o.LossSlaT2I!;
                outputs["loss_sla_i2t"] = o.LossSlaI2T!;
            }
            AddAccuracy(outputs, o.Accuracy);
        }
        else
        {
            image = pixels is null ? null : model.EncodeImage(pixels);
            text = tokens is { } only ? model.EncodeText(only.Ids, only.Mask) : null;
            if (image is not null && text is not null)
            {
                // Pairs without a second view: the global term and the retrieval accuracies.
                outputs["loss_clip_v1"] = Losses.ClipLoss(image.Embedding, text.Embedding, model.LogitScale);
                AddAccuracy(outputs, RetrievalAccuracy.FromEmbeddings(image.Embedding, text.Embedding));
            }
        }
        if (image is not null)
        {
            outputs["x_prenorm"] = image.Vision.XPrenorm;
            outputs["x_norm"] = image.Vision.XNorm;
            outputs["image_embedding"] = image.Embedding;
            outputs["patch_embedding"] = patches ?? model.ImageEncoder.PatchEmbeddings(image);
        }
        if (text is not null)
        {
            outputs["text_hidden"] = text.Hidden;
            outputs["text_embedding"] = text.Embedding;
            outputs["sentence_embedding"] = sentences ?? model.TextEncoder.SentenceEmbeddings(text);
            outputs["sentence_offsets"] = text.Offsets;
        }
        return outputs;
    }

    private static void AddAccuracy(Dictionary<string, Tensor> outputs, RetrievalAccuracy accuracy)
    {
        outputs["i2t_acc1"] = Tensor.Scalar(accuracy.I2TTop1);
        outputs["i2t_acc5"] = Tensor.Scalar(accuracy.I2TTop5);
        outputs["t2i_acc1"] = Tensor.Scalar(accuracy.T2ITop1);
        outputs["t2i_acc5"] = Tensor.Scalar(accuracy.T2ITop5);
    }

    private static void RequireSentences(Tensor ids, int sepTokenId)
    {
        long[] values = ForwardInputs.Values(ids);
        int b = ids.Shape[0], t = ids.Shape[1];
        for (int m = 0; m < b; m++)
        {
            bool any = false;
            for (int i = 0; i < t && !any; i++) any = values[m * t + i] == sepTokenId;
            if (!any)
                throw new ForwardInputException($"'input_ids' row {m} has no SEP token (id {sepTokenId}); every report needs at least one for the sentence embeddings (tokenize with `mama captions`' rules).");
        }
    }
}
