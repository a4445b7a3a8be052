using MaMA.Data.Images.Transforms;
using MaMA.Data.Text;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Evaluation.ZeroShot;

/// <summary>
/// A MaMA model folder opened for evaluation (zero-shot, embeddings, explanations): the model in
/// evaluation mode (BatchNorm running statistics) with its tokenizer and evaluation image
/// transform. Everything here runs without recording gradients.
/// </summary>
public sealed class EvaluationModel
{
    private EvaluationModel(string directory, ModelConfigFile file, MaMAModel model, MaMATokenizer tokenizer, Device device)
    {
        Directory = directory;
        ConfigFile = file;
        Model = model;
        Tokenizer = tokenizer;
        Device = device;
        int side = model.Config.Vision.ImageSize;
        Transform = new MammoTransform(new MammoTransformOptions { ImageSize = side, CropSize = side });
        MaxTextLength = Math.Min(MaMATokenizer.DefaultMaxLength, model.Config.Text.NPositions);
    }

    /// <summary>The model folder (absolute).</summary>
    public string Directory { get; }

    /// <summary>config.json as read (weights dtype and SHA-256 included).</summary>
    public ModelConfigFile ConfigFile { get; }

    public MaMAModel Model { get; }

    public MaMAConfig Config => Model.Config;

    public MaMATokenizer Tokenizer { get; }

    public Device Device { get; }

    /// <summary>The evaluation transform at the model's image size (resize, Otsu crop, centre crop, normalise).</summary>
    public MammoTransform Transform { get; }

    /// <summary>T of every caption: 144 (the reference's max_words), or fewer when the text model has fewer positions.</summary>
    public int MaxTextLength { get; }

    /// <summary>Side of the square model input (518 for the paper's ViT).</summary>
    public int ImageSize => Config.Vision.ImageSize;

    /// <summary>Patches per side of the image grid (37 at 518).</summary>
    public int Grid => Config.Vision.Grid;

    /// <summary>
    /// Opens <paramref name="directory"/> (checksum verified), builds its MaMA model on
    /// <paramref name="device"/>, loads the weights strictly and switches to evaluation mode. The
    /// tokenizer is the built-in GPT-2 one when the config says "gpt2", else the folder's
    /// <c>tokenizer/</c>; its SEP id must be the config's. A pre-training run folder (no
    /// model.safetensors, a <c>final/</c> model folder inside) means its final model.
    /// </summary>
    public static EvaluationModel Load(string directory, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        using ModelCheckpoint checkpoint = ModelDirectory.Load(directory); // a run folder: its final model (ModelDirectory.Resolve)
        if (checkpoint.Config.Arch != ModelArch.Mama || checkpoint.Config.Mama is null)
            throw new InvalidDataException($"{checkpoint.Directory}: holds a {checkpoint.Config.Arch.ToString().ToLowerInvariant()} model; this needs a MaMA model (arch \"mama\").");
        MaMAConfig config = checkpoint.Config.Mama;
        MaMATokenizer tokenizer = LoadTokenizer(checkpoint, config);
        var model = (MaMAModel)ModelFactory.Load(checkpoint, device);
        model.Eval();
        return new EvaluationModel(checkpoint.Directory, checkpoint.Config, model, tokenizer, device);
    }

    private static MaMATokenizer LoadTokenizer(ModelCheckpoint checkpoint, MaMAConfig config)
    {
        MaMATokenizer tokenizer;
        if (string.Equals(config.Tokenizer, MaMATokenizer.Gpt2Name, StringComparison.OrdinalIgnoreCase))
            tokenizer = MaMATokenizer.Load(MaMATokenizer.Gpt2Name);
        else
        {
            string dir = Path.Combine(checkpoint.Directory, config.Tokenizer);
            if (!System.IO.Directory.Exists(dir))
                throw new FileNotFoundException($"{checkpoint.Directory}: the model's tokenizer folder '{config.Tokenizer}' is missing; copy the tokenizer files into it (or import the model again with `mama import`).", dir);
            tokenizer = MaMATokenizer.Load(dir);
        }
        if (tokenizer.SepId != config.SepTokenId)
            throw new InvalidDataException($"{checkpoint.Directory}: the tokenizer's SEP token is id {tokenizer.SepId} but config.json says sep_token_id {config.SepTokenId}; the tokenizer does not belong to this model.");
        return tokenizer;
    }

    /// <summary>
    /// Tokenises captions as reports (every "." and ";" a SEP, BOS + text + EOS, truncated and
    /// padded to <see cref="MaxTextLength"/>) -> ids [B, T] int64 and mask [B, T] float.
    /// </summary>
    public (Tensor Ids, Tensor Mask, EncodedCaptionBatch Encoded) Tokenize(IReadOnlyList<string> reports)
    {
        EncodedCaptionBatch encoded = Tokenizer.EncodeCaptions(reports, MaxTextLength);
        Tensor ids = Tensor.FromArray(Array.ConvertAll(encoded.Ids, i => (long)i), [encoded.BatchSize, encoded.MaxLength], Device);
        Tensor mask = Tensor.FromArray(Array.ConvertAll(encoded.AttentionMask, m => (float)m), [encoded.BatchSize, encoded.MaxLength], Device);
        return (ids, mask, encoded);
    }

    /// <summary>Global text embeddings [B, E] (L2-normalised) of <paramref name="reports"/>, as host floats row-major.</summary>
    public float[] TextEmbeddings(IReadOnlyList<string> reports)
    {
        if (reports.Count == 0) return [];
        (Tensor ids, Tensor mask, _) = Tokenize(reports);
        using (ids)
        using (mask)
        using (GradMode.NoGrad())
            return Model.EncodeText(ids, mask).Embedding.ToFloatArray();
    }

    /// <summary>exp(logit_scale), the s of the zero-shot class scores.</summary>
    public float LogitScaleExp()
    {
        using (GradMode.NoGrad()) return MathF.Exp(Model.LogitScale.Item());
    }
}
