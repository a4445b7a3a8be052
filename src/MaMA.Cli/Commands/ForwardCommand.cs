using System.Globalization;
using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Losses;
using MaMA.Engine.Nn;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Model.Text;
using MaMA.Model.Vision;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama forward --model DIR --in IN.safetensors --out OUT.safetensors [--device D] [--step N]</c>:
/// runs a model folder (dinov2, gpt2 or mama) in evaluation mode on named inputs and writes the
/// named outputs whose inputs are present (see docs/models.md). Bad input is a
/// <see cref="UsageException"/> naming the tensor (exit 2).
/// </summary>
internal static class ForwardCommand
{
    private const string Usage = "usage: mama forward --model DIR --in IN.safetensors --out OUT.safetensors [--device D] [--step N]";

    public static int Run(CommandLine cl)
    {
        if (cl.Positionals.Count != 0) throw new UsageException(Usage);
        string dir = cl.Get("model") ?? throw new UsageException("--model DIR is required (a model folder with config.json and model.safetensors; see `mama import`).");
        string input = cl.Get("in") ?? throw new UsageException("--in IN.safetensors is required.");
        string output = cl.Get("out") ?? throw new UsageException("--out OUT.safetensors is required.");
        long? step = null;
        if (cl.Get("step") is { } stepText)
            step = long.TryParse(stepText, NumberStyles.Integer, CultureInfo.InvariantCulture, out long s) && s >= 0
                ? s : throw new UsageException($"--step must be a non-negative integer, got '{stepText}'.");
        Device device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        if (!File.Exists(input)) throw new UsageException($"--in {input}: no such file.");

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (SafetensorsFile file = Safetensors.Open(input))
            foreach (string n in file.Names) tensors[n] = file.Load(n, device);

        ModelConfigFile config;
        Module model;
        using (ModelCheckpoint checkpoint = ModelDirectory.Load(dir))
        {
            config = checkpoint.Config;
            model = ModelFactory.Create(config, device: device);
            ModelFactory.LoadInto(model, checkpoint);
        }
        model.Eval();

        var inputs = new ForwardInputs(tensors);
        Dictionary<string, Tensor> written;
        using (GradMode.NoGrad())
        {
            written = model switch
            {
                DinoVisionTransformer vit => RunVision(vit, inputs),
                IGpt2TextModel gpt => RunText(gpt, config.Text!, inputs),
                MaMAModel mama => RunMaMA(mama, inputs, step),
                _ => throw new InvalidDataException($"{dir}: `mama forward` does not run a {model.GetType().Name}."),
            };
        }
        foreach (string unused in inputs.Unused()) Console.Error.WriteLine($"mama forward: warning: input '{unused}' was not used by a {config.Arch.ToString().ToLowerInvariant()} model.");

        Safetensors.Write(output, written, new Dictionary<string, string>
        {
            ["model"] = Path.GetFullPath(dir),
            ["arch"] = config.Arch.ToString().ToLowerInvariant(),
            ["device"] = device.Spec,
        });
        Console.WriteLine($"mama forward: wrote {string.Join(", ", written.Keys.Order(StringComparer.Ordinal))} to {output}");
        return 0;
    }

    private static Dictionary<string, Tensor> RunVision(DinoVisionTransformer vit, ForwardInputs inputs)
    {
        Tensor pixels = inputs.Pixels("pixel_values", vit.Config) ?? throw new UsageException("a dinov2 model needs 'pixel_values' [B, 3, H, W] in the input file.");
        VisionOutput o = vit.Forward(pixels);
        return new(StringComparer.Ordinal) { ["x_prenorm"] = o.XPrenorm, ["x_norm"] = o.XNorm };
    }

    private static Dictionary<string, Tensor> RunText(IGpt2TextModel gpt, Gpt2Config config, ForwardInputs inputs)
    {
        (Tensor ids, Tensor mask) = inputs.Tokens(config) ?? throw new UsageException("a gpt2 model needs 'input_ids' [B, T] (and 'attention_mask') in the input file.");
        return new(StringComparer.Ordinal) { ["text_hidden"] = gpt.Forward(ids, mask) };
    }

    private static Dictionary<string, Tensor> RunMaMA(MaMAModel model, ForwardInputs inputs, long? step)
    {
        MaMAConfig config = model.Config;
        Tensor? pixels = inputs.Pixels("pixel_values", config.Vision);
        Tensor? pixels2 = inputs.Pixels("pixel_values_2", config.Vision);
        (Tensor Ids, Tensor Mask)? tokens = inputs.Tokens(config.Text);
        if (pixels2 is not null && (pixels is null || tokens is null))
            throw new UsageException("'pixel_values_2' (the second view, for the loss terms) needs 'pixel_values' and 'input_ids' too.");
        if (pixels is null && tokens is null)
            throw new UsageException("a mama model needs 'pixel_values' [B, 3, H, W] and/or 'input_ids' [B, T] in the input file.");
        if (pixels2 is not null && !Shape.SameShape(pixels2.Shape, pixels!.Shape))
            throw new UsageException($"'pixel_values_2' has shape {Shape.Format(pixels2.Shape)} but 'pixel_values' has {Shape.Format(pixels.Shape)}; the two views must match.");
        if (pixels is not null && tokens is { } tk && tk.Ids.Shape[0] != pixels.Shape[0])
            throw new UsageException($"'pixel_values' holds {pixels.Shape[0]} images but 'input_ids' {tk.Ids.Shape[0]} reports; pairs need the same B.");
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
        long[] values = ids.DType == DType.Int64 ? ids.ToArray<long>() : Array.ConvertAll(ids.ToArray<int>(), v => (long)v);
        int b = ids.Shape[0], t = ids.Shape[1];
        for (int m = 0; m < b; m++)
        {
            bool any = false;
            for (int i = 0; i < t && !any; i++) any = values[m * t + i] == sepTokenId;
            if (!any)
                throw new UsageException($"'input_ids' row {m} has no SEP token (id {sepTokenId}); every report needs at least one for the sentence embeddings (tokenize with `mama captions`' rules).");
        }
    }

    /// <summary>The input file's tensors with checks whose errors name the tensor.</summary>
    private sealed class ForwardInputs(Dictionary<string, Tensor> tensors)
    {
        private readonly HashSet<string> _used = new(StringComparer.Ordinal);

        public IEnumerable<string> Unused() => tensors.Keys.Where(k => !_used.Contains(k)).Order(StringComparer.Ordinal);

        /// <summary>A floating [B, Cin, H, W] image batch with H, W multiples of the patch, or null when absent.</summary>
        public Tensor? Pixels(string name, VisionConfig vision)
        {
            if (!tensors.TryGetValue(name, out Tensor? t)) return null;
            _used.Add(name);
            if (!t.DType.IsFloating())
                throw new UsageException($"'{name}' must be a floating tensor (F32, BF16, F16), got {t.DType.SafetensorsName()}.");
            if (t.Rank != 4 || t.Shape[0] == 0 || t.Shape[1] != vision.InChannels || t.Shape[2] % vision.PatchSize != 0 || t.Shape[3] % vision.PatchSize != 0 || t.Shape[2] == 0 || t.Shape[3] == 0)
                throw new UsageException($"'{name}' must be [B, {vision.InChannels}, H, W] with B >= 1 and H, W positive multiples of the patch size {vision.PatchSize}, got {Shape.Format(t.Shape)}.");
            return t;
        }

        /// <summary>input_ids [B, T] (int) and attention_mask [B, T] (all ones when absent), or null without input_ids.</summary>
        public (Tensor Ids, Tensor Mask)? Tokens(Gpt2Config text)
        {
            if (!tensors.TryGetValue("input_ids", out Tensor? ids))
            {
                if (tensors.ContainsKey("attention_mask")) throw new UsageException("'attention_mask' is given without 'input_ids'.");
                return null;
            }
            _used.Add("input_ids");
            if (ids.DType is not (DType.Int64 or DType.Int32))
                throw new UsageException($"'input_ids' must be an integer tensor (I64 or I32), got {ids.DType.SafetensorsName()}.");
            if (ids.Rank != 2 || ids.Shape[0] == 0 || ids.Shape[1] == 0)
                throw new UsageException($"'input_ids' must be [B, T] with B, T >= 1, got {Shape.Format(ids.Shape)}.");
            if (ids.Shape[1] > text.NPositions)
                throw new UsageException($"'input_ids' has T = {ids.Shape[1]} tokens but the model has {text.NPositions} positions.");
            long[] values = ids.DType == DType.Int64 ? ids.ToArray<long>() : Array.ConvertAll(ids.ToArray<int>(), v => (long)v);
            long bad = values.FirstOrDefault(v => v < 0 || v >= text.VocabSize, -1);
            if (values.Any(v => v < 0 || v >= text.VocabSize))
                throw new UsageException($"'input_ids' holds token id {bad}, outside the vocabulary [0, {text.VocabSize}).");
            Tensor mask;
            if (tensors.TryGetValue("attention_mask", out Tensor? m))
            {
                _used.Add("attention_mask");
                if (!Shape.SameShape(m.Shape, ids.Shape))
                    throw new UsageException($"'attention_mask' has shape {Shape.Format(m.Shape)} but 'input_ids' has {Shape.Format(ids.Shape)}.");
                if (m.DType is not (DType.Int64 or DType.Int32 or DType.Bool) && !m.DType.IsFloating())
                    throw new UsageException($"'attention_mask' must be integer, bool or floating, got {m.DType.SafetensorsName()}.");
                mask = m;
            }
            else mask = Tensor.Ones(ids.Shape, ids.Device);
            return (ids, mask);
        }
    }
}
