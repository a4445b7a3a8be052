using MaMA.Data.Text;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Model.Text;

namespace MaMA.Training.Pretraining;

/// <summary>What <see cref="MaMAAssembler.Assemble"/> builds from.</summary>
/// <param name="Vision">A dinov2 model folder (<c>mama import --arch dinov2</c> of the DINOv2 ViT-B/14-reg4 checkpoint).</param>
/// <param name="Text">A plain gpt2 model folder with its <c>tokenizer/</c> (<c>mama import --arch gpt2</c> of BioMedLM).</param>
/// <param name="Out">The MaMA model folder to write.</param>
/// <param name="Seed">Seed of the new weights: the heads, LoRA's A and the six new token rows (the scales start at ln(1/0.07), LoRA's B at zero).</param>
/// <param name="FloatDType">Storage dtype of the floating weights; null keeps fp32.</param>
public sealed record AssembleRequest(string Vision, string Text, string Out, ulong Seed = 0, DType? FloatDType = null);

/// <summary>What was written.</summary>
public sealed record AssembleResult(ModelConfigFile Config, int Tensors, int NewTokenRows);

/// <summary>
/// The MaMA model the published pre-training starts from (SPEC sections 3-5): the pre-trained
/// DINOv2 ViT as <c>img_encoder_q.model</c>, the pre-trained BioMedLM as the frozen base of
/// <c>text_encoder_q.model</c> under PEFT's LoRA (r 8, alpha 32, dropout 0.1 on c_attn; A drawn, B
/// zero, so the adapted model starts equal to BioMedLM), its token embedding resized from the base
/// vocabulary to the base plus MaMA's six special tokens (the new rows N(0, 0.02) and frozen, as
/// Hugging Face's resize_token_embeddings before get_peft_model), and freshly initialised heads and
/// scales. The result is an ordinary MaMA model folder with the text model's tokenizer, for
/// <c>"model"</c> in a pre-training config.
/// <para>
/// Memory: the whole model is built once (10.8 GB of fp32 weights at the paper's size, as every
/// pre-training start builds it; 14.1 GB of process memory at the peak, docs/benchmarks.md) and
/// written tensor by tensor. The folder appears only when it is
/// complete and checked (checksum, every name and shape of a MaMA model of its config).
/// </para>
/// </summary>
public static class MaMAAssembler
{
    public static AssembleResult Assemble(AssembleRequest request, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        log ??= TextWriter.Null;
        string output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(request.Out));
        foreach ((string option, string input) in new[] { ("--vision", request.Vision), ("--text", request.Text) })
            if (string.Equals(output, Path.TrimEndingDirectorySeparator(Path.GetFullPath(input)), StringComparison.Ordinal))
                throw new ArgumentException($"--out {request.Out} is the {option} folder; the assembled model would replace its input. Choose another --out.");
        using ModelCheckpoint vision = Open(request.Vision, ModelArch.Dinov2, "--vision", "a DINOv2 ViT (mama import --arch dinov2)");
        using ModelCheckpoint text = Open(request.Text, ModelArch.Gpt2, "--text", "BioMedLM or another GPT-2 (mama import --arch gpt2)");
        Gpt2Config baseText = text.Config.Text!;
        if (baseText.Lora is not null)
            throw new ArgumentException($"--text {request.Text}: holds a GPT-2 with LoRA adapters; give the plain pre-trained model (MaMA adds fresh adapters).");
        string tokenizerDir = text.TokenizerDirectory
            ?? throw new ArgumentException($"--text {request.Text}: has no tokenizer/ folder; import the model from its Hugging Face folder, which carries vocab.json and merges.txt.");
        MaMATokenizer tokenizer = MaMATokenizer.Load(tokenizerDir);
        int rows = tokenizer.VocabularySize;
        // Every BPE token up to <|endoftext|> (the base vocabulary's last id) needs a row of the model;
        // rows past the model's are MaMA's tokens (a tokenizer may already list them as added tokens,
        // and a model already resized for MaMA has them all).
        if (baseText.VocabSize <= tokenizer.EndOfTextId || baseText.VocabSize > rows)
            throw new ArgumentException($"--text {request.Text}: its embedding has {baseText.VocabSize} rows, but its tokenizer needs {tokenizer.EndOfTextId + 1} for its " +
                                        $"vocabulary (<|endoftext|> = {tokenizer.EndOfTextId}) and {rows} with MaMA's six tokens; the model and tokenizer do not belong together.");

        MaMAConfig final = MaMAConfig.Paper with
        {
            Vision = vision.Config.Vision!,
            Text = baseText with { Lora = new LoraConfig(), VocabSize = rows },
            SepTokenId = tokenizer.SepId,
            PadTokenId = tokenizer.PadId,
            Tokenizer = ModelDirectory.TokenizerFolder,
        };
        final.Validate();
        if (final.Vision != MaMAConfig.Paper.Vision)
            log.WriteLine($"note: the ViT is not the paper's ViT-B/14-reg4 at 518 px (C{final.Vision.EmbedDim} x{final.Vision.Depth}, {final.Vision.NumRegisters} registers, " +
                          $"{final.Vision.ImageSize} px); MaMA pre-trains at the ViT's own image size");
        log.WriteLine($"building MaMA: ViT C{final.Vision.EmbedDim} x{final.Vision.Depth} at {final.Vision.ImageSize} px, GPT-2 C{baseText.NEmbd} x{baseText.NLayer} " +
                      $"+ LoRA r {final.Text.Lora!.Rank}, vocabulary {rows}, E {final.EmbedDim} (seed {request.Seed})");
        // Every weight is drawn here (the token table's rows N(0, 0.02), as resize_token_embeddings draws
        // them); the encoders' files then replace all but the heads, the scales, LoRA and the new rows.
        var model = new MaMAModel(final, new Random(unchecked((int)request.Seed)));

        log.WriteLine($"loading the ViT from {vision.Weights.Path}");
        ModelFactory.LoadInto(model.ImageEncoder.Model, vision);

        log.WriteLine($"loading the text model from {text.Weights.Path}");
        var peft = (PeftGpt2Model)model.TextEncoder.Model;
        int added = LoadText(peft.Model, text, baseText.VocabSize, rows);
        if (added > 0) log.WriteLine($"token embedding: {baseText.VocabSize} rows from the file, {added} new (MaMA's special tokens, N(0, 0.02), frozen)");
        ModelConfigFile file = ModelConfigFile.ForMaMA(final) with
        {
            Source = $"mama assemble: vision {Path.GetFullPath(request.Vision)}, text {Path.GetFullPath(request.Text)}, seed {request.Seed}",
        };

        var tensors = model.StateDict().ToDictionary(kv => kv.Key, kv => TensorSource.Of(kv.Value), StringComparer.Ordinal);
        var shapes = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.Shape, StringComparer.Ordinal);
        string[] tokenizerFiles = Directory.GetFiles(tokenizerDir).Where(f => ModelDirectory.TokenizerFileNames.Contains(Path.GetFileName(f))).Order(StringComparer.Ordinal).ToArray();
        long lastSecond = -1;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ModelConfigFile written = ModelDirectory.Save(request.Out, file, tensors, new ModelDirectory.SaveOptions
        {
            FloatDType = request.FloatDType,
            TokenizerFiles = tokenizerFiles,
            Progress = (done, total, bytes, all) =>
            {
                long second = clock.ElapsedMilliseconds / 1000;
                if (done != total && second == lastSecond) return;
                lastSecond = second;
                log.WriteLine($"  writing {done}/{total} tensors, {bytes / 1e6:F1}/{all / 1e6:F1} MB ({clock.Elapsed.TotalSeconds:F1} s)");
            },
            Verify = dir => VerifyFolder(dir, final, shapes, log),
        });
        return new AssembleResult(written, tensors.Count, added);
    }

    /// <summary>
    /// Copies the GPT-2 file into <paramref name="gpt2"/> (the LoRA-wrapped model) one tensor at a
    /// time: every tensor but the fresh adapters must come from the file, and the file may hold
    /// nothing else. The token table takes the file's <paramref name="baseRows"/> rows and keeps its
    /// own drawn rows after them. Returns the number of new rows.
    /// </summary>
    private static int LoadText(Gpt2Model gpt2, ModelCheckpoint text, int baseRows, int rows)
    {
        const string tokenTable = "transformer.wte.weight";
        var own = gpt2.StateDict();
        var unexpected = text.Weights.Names.Where(n => !own.ContainsKey(n)).ToList();
        var missing = own.Keys.Where(k => !IsAdapter(k) && !text.Weights.Entries.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new InvalidDataException($"{text.Weights.Path}: missing {string.Join(", ", missing.Take(3).DefaultIfEmpty("-"))}, " +
                                           $"unexpected {string.Join(", ", unexpected.Take(3).DefaultIfEmpty("-"))} for a GPT-2 of its config.");
        foreach (string name in text.Weights.Names)
        {
            using Tensor source = text.Load(name);
            ModelFactory.CheckFinite([new(name, source)], text.Weights.Path);
            if (name == tokenTable && baseRows < rows)
            {
                float[] table = own[name].ToFloatArray();
                float[] from = source.ToFloatArray();
                Array.Copy(from, table, from.Length);
                using Tensor merged = Tensor.FromArray(table, own[name].ShapeArray);
                gpt2.LoadStateDict(new Dictionary<string, Tensor> { [name] = merged }, strict: false);
            }
            else
            {
                gpt2.LoadStateDict(new Dictionary<string, Tensor> { [name] = source }, strict: false);
            }
        }
        return rows - baseRows;
    }

    private static bool IsAdapter(string key) => key.Contains(".lora_A.", StringComparison.Ordinal) || key.Contains(".lora_B.", StringComparison.Ordinal);

    private static ModelCheckpoint Open(string dir, ModelArch arch, string option, string what)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{option} {dir}: no such folder (expected {what}).");
        ModelCheckpoint checkpoint = ModelDirectory.Load(dir);
        if (checkpoint.Config.Arch != arch)
        {
            ModelArch found = checkpoint.Config.Arch;
            checkpoint.Dispose();
            throw new ArgumentException($"{option} {dir}: holds a {found.ToString().ToLowerInvariant()} model; expected {what}.");
        }
        return checkpoint;
    }

    /// <summary>
    /// The written folder, before it is renamed into place: its checksum (checked by opening it), its
    /// config, and every tensor name and shape of the model. Building a second model to load it would
    /// double the memory at the paper's size; the weights' values are those just written.
    /// </summary>
    private static void VerifyFolder(string dir, MaMAConfig config, Dictionary<string, int[]> shapes, TextWriter log)
    {
        log.WriteLine("verifying: checksum, config, names and shapes");
        using ModelCheckpoint check = ModelDirectory.Load(dir);
        // Compared as JSON: the configs hold lists, which records compare by reference.
        if (ModelConfigFile.ForMaMA(check.Config.Mama!).ToJson() != ModelConfigFile.ForMaMA(config).ToJson()) throw new InvalidDataException($"{dir}: the written config differs from the assembled model's.");
        var written = check.Weights.Entries.ToDictionary(e => e.Key, e => e.Value.Shape, StringComparer.Ordinal);
        var wrong = shapes.Where(kv => !written.TryGetValue(kv.Key, out int[]? s) || !s.SequenceEqual(kv.Value)).Select(kv => kv.Key)
                          .Concat(written.Keys.Where(k => !shapes.ContainsKey(k))).Take(3).ToList();
        if (wrong.Count > 0) throw new InvalidDataException($"{dir}: written tensors differ from the model's, e.g. {string.Join(", ", wrong)}.");
    }
}
