using System.Text.Json;
using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.ZeroShot;
using MaMA.Model.MaMA;

namespace MaMA.Evaluation.Embedding;

/// <summary>What to embed and how.</summary>
public sealed record EmbeddingRequest
{
    public ImageList? Images { get; init; }

    /// <summary>Texts (reports, prompts) to embed as captions (SEP at "." and ";", BOS/EOS, 144 tokens).</summary>
    public IReadOnlyList<string> Texts { get; init; } = [];

    /// <summary>Also write the local patch embeddings [N, P, E].</summary>
    public bool Patches { get; init; }

    /// <summary>Also write the local sentence embeddings [sum S, E] with their offsets [M + 1].</summary>
    public bool Sentences { get; init; }

    /// <summary>Images (and texts) per forward.</summary>
    public int BatchSize { get; init; } = 16;
}

/// <summary>What <see cref="EmbeddingExport.Write"/> wrote.</summary>
public sealed record EmbeddingSummary(string Path, int Images, int Texts, IReadOnlyList<ImageFailure> Skipped, int TruncatedTexts, IReadOnlyList<string> Tensors);

/// <summary>
/// Exports embeddings to one safetensors file (written atomically). Tensors, all fp32 unless said:
/// <list type="bullet">
/// <item><c>image_embedding</c> [N, E]: the global image embeddings, L2-normalised (as zero-shot uses them);</item>
/// <item><c>patch_embedding</c> [N, P, E] (with <see cref="EmbeddingRequest.Patches"/>): normalised local patch embeddings, patches row-major over the grid;</item>
/// <item><c>birads</c>, <c>density</c> [N] int64 (EMBED inputs): labels 0-6 and 0-3 (-1: density 5);</item>
/// <item><c>text_embedding</c> [M, E]: global text embeddings, L2-normalised;</item>
/// <item><c>sentence_embedding</c> [sum S, E] and <c>sentence_offsets</c> [M + 1] int64 (with
/// <see cref="EmbeddingRequest.Sentences"/>): normalised local embeddings of each text's SEP
/// tokens; text m owns rows offsets[m] .. offsets[m + 1] (none when it has no "." or ";").</item>
/// </list>
/// Metadata (JSON strings): <c>images</c> (the N embedded paths, row order), <c>skipped</c>
/// ([{path, reason}] of unreadable images, not in the rows), <c>texts</c>, <c>model</c>,
/// <c>model_sha256</c>, <c>device</c>, <c>embed_dim</c>, <c>grid</c>, <c>format</c>.
/// The model runs in evaluation mode, so the local heads' BatchNorm uses its running statistics
/// and every row is independent of the others in its batch.
/// </summary>
public static class EmbeddingExport
{
    public const string Format = "mama-embeddings-1";

    /// <summary>
    /// Embeds and writes <paramref name="outFile"/>. <paramref name="progress"/> gets (what, done, total)
    /// after each batch ("images" or "texts").
    /// </summary>
    public static EmbeddingSummary Write(EvaluationModel model, EmbeddingRequest request, string outFile, Action<string, int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(request);
        if (request.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(request), request.BatchSize, "the batch size must be at least 1.");
        if ((request.Images?.Paths.Count ?? 0) == 0 && request.Texts.Count == 0)
            throw new ArgumentException("nothing to embed: no images and no texts.");
        int e = model.Config.EmbedDim, p = model.Config.Vision.NumPatches;
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var skipped = new List<ImageFailure>();
        var keptPaths = new List<string>();

        if (request.Images is { } images && images.Paths.Count > 0)
        {
            var global = new List<float>();
            var patches = request.Patches ? new List<float>() : null;
            var kept = new List<int>();
            for (int start = 0; start < images.Paths.Count; start += request.BatchSize)
            {
                int count = Math.Min(request.BatchSize, images.Paths.Count - start);
                string[] batch = images.Paths.Skip(start).Take(count).ToArray();
                EvalImageBatch read = EvalImageReader.Read(batch, model.Transform);
                skipped.AddRange(read.Failed);
                if (read.Kept.Length > 0)
                {
                    (float[] g, float[]? pe) = EncodeImages(model, read.Pixels, read.Kept.Length, request.Patches);
                    global.AddRange(g);
                    patches?.AddRange(pe!);
                    foreach (int k in read.Kept)
                    {
                        kept.Add(start + k);
                        keptPaths.Add(batch[k]);
                    }
                }
                progress?.Invoke("images", start + count, images.Paths.Count);
            }
            int n = kept.Count;
            tensors["image_embedding"] = Tensor.FromArray(global.ToArray(), [n, e]);
            if (patches is not null) tensors["patch_embedding"] = Tensor.FromArray(patches.ToArray(), [n, p, e]);
            if (images.Birads is { } birads) tensors["birads"] = Tensor.FromArray(kept.Select(i => (long)birads[i]).ToArray(), [n]);
            if (images.Density is { } density) tensors["density"] = Tensor.FromArray(kept.Select(i => (long)density[i]).ToArray(), [n]);
        }

        int truncated = 0;
        if (request.Texts.Count > 0)
        {
            var global = new List<float>();
            var sentences = request.Sentences ? new List<float>() : null;
            var offsets = new List<long> { 0 };
            for (int start = 0; start < request.Texts.Count; start += request.BatchSize)
            {
                string[] batch = request.Texts.Skip(start).Take(request.BatchSize).ToArray();
                (float[] g, float[]? s, long[] counts, int cut) = EncodeTexts(model, batch, request.Sentences);
                truncated += cut;
                global.AddRange(g);
                if (sentences is not null)
                {
                    sentences.AddRange(s!);
                    foreach (long c in counts) offsets.Add(offsets[^1] + c);
                }
                progress?.Invoke("texts", start + batch.Length, request.Texts.Count);
            }
            int m = request.Texts.Count;
            tensors["text_embedding"] = Tensor.FromArray(global.ToArray(), [m, e]);
            if (sentences is not null)
            {
                tensors["sentence_embedding"] = Tensor.FromArray(sentences.ToArray(), [(int)offsets[^1], e]);
                tensors["sentence_offsets"] = Tensor.FromArray(offsets.ToArray(), [m + 1]);
            }
        }

        var json = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = Format,
            ["images"] = JsonSerializer.Serialize(keptPaths, json),
            ["skipped"] = JsonSerializer.Serialize(skipped.Select(f => new Dictionary<string, string> { ["path"] = f.Path, ["reason"] = f.Reason }), json),
            ["texts"] = JsonSerializer.Serialize(request.Texts, json),
            ["model"] = model.Directory,
            ["model_sha256"] = model.ConfigFile.WeightsSha256 ?? "",
            ["device"] = model.Device.Spec,
            ["embed_dim"] = e.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["grid"] = model.Grid.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        Safetensors.Write(outFile, tensors, metadata);
        return new EmbeddingSummary(Path.GetFullPath(outFile), keptPaths.Count, request.Texts.Count, skipped, truncated, tensors.Keys.Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary>pixels [n, 3, S, S] -> global [n, E] and, when asked, patch embeddings [n, P, E] (host floats).</summary>
    internal static (float[] Global, float[]? Patches) EncodeImages(EvaluationModel model, float[] pixels, int n, bool withPatches)
    {
        int side = model.ImageSize;
        using Tensor x = Tensor.FromArray(pixels, [n, 3, side, side], model.Device);
        using (GradMode.NoGrad())
        {
            ImageEncoding image = model.Model.EncodeImage(x);
            float[] global = image.Embedding.ToFloatArray();
            float[]? patches = withPatches ? model.Model.ImageEncoder.PatchEmbeddings(image).ToFloatArray() : null;
            return (global, patches);
        }
    }

    /// <summary>
    /// texts -> global [B, E], the sentence embeddings of all texts packed [sum S, E] (when asked),
    /// the sentence count of each text, and how many texts were cut at the caption length.
    /// </summary>
    internal static (float[] Global, float[]? Sentences, long[] Counts, int Truncated) EncodeTexts(EvaluationModel model, IReadOnlyList<string> texts, bool withSentences)
    {
        (Tensor ids, Tensor mask, var encoded) = model.Tokenize(texts);
        using (ids)
        using (mask)
        using (GradMode.NoGrad())
        {
            TextEncoding text = model.Model.EncodeText(ids, mask);
            float[] global = text.Embedding.ToFloatArray();
            long[] offsets = text.Offsets.ToArray<long>();
            long[] counts = Enumerable.Range(0, texts.Count).Select(i => offsets[i + 1] - offsets[i]).ToArray();
            float[]? sentences = null;
            if (withSentences)
            {
                // Evaluation mode: BatchNorm uses running statistics, so all rows go through the head
                // at once (identical to the per-report segments of training).
                sentences = text.Sentences.Shape[0] == 0
                    ? []
                    : Ops.L2Normalize(model.Model.TextEncoder.LocalEmbed.ForwardRows(text.Sentences)).ToFloatArray();
            }
            return (global, sentences, counts, encoded.TruncatedCount);
        }
    }
}
