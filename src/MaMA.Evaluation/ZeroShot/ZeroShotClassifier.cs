using MaMA.Data.Labels;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.Embedding;

namespace MaMA.Evaluation.ZeroShot;

/// <summary>
/// Zero-shot classification as the published <c>zero_shot_inference</c> with instance prompts:
/// for image i with report base b_i, the K class prompts of the task are built on b_i, each
/// encoded by the text encoder to its global embedding t_{i,c} [E] (L2-normalised), and the class
/// scores are logits[i, c] = s * (v_i . t_{i,c}) with v_i the image's global embedding and
/// s = exp(logit_scale); the probabilities are their softmax over c.
/// <para>
/// Prompt embeddings are cached by prompt text: images sharing a base (and every RSNA image) reuse
/// them, which gives the same numbers as encoding per image because the text path runs in
/// evaluation mode, row by row independent. Not thread-safe.
/// </para>
/// </summary>
public sealed class ZeroShotClassifier
{
    private readonly Dictionary<string, float[]> _prompts = new(StringComparer.Ordinal);

    public ZeroShotClassifier(EvaluationModel model, DownstreamTask task)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Task = task;
        ClassNames = task.ClassNames();
    }

    public EvaluationModel Model { get; }

    public DownstreamTask Task { get; }

    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Tests: replaces the text encoder (texts -> embeddings [B, E], row-major) to check the scoring on constructed embeddings.</summary>
    internal Func<IReadOnlyList<string>, float[]>? TextEmbedder { get; init; }

    /// <summary>Distinct prompts encoded so far.</summary>
    public int CachedPrompts => _prompts.Count;

    /// <summary>
    /// Classifies <paramref name="samples"/> in batches of <paramref name="batchSize"/> images;
    /// <paramref name="progress"/> gets (images done, total) after each batch. Unreadable images are
    /// left out and listed in <see cref="ZeroShotResult.Failed"/>.
    /// </summary>
    public ZeroShotResult Classify(IReadOnlyList<ZeroShotSample> samples, int batchSize = 16, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "the batch size must be at least 1.");
        int k = Task.ClassCount();
        var kept = new List<ZeroShotSample>(samples.Count);
        var rows = new List<double[]>(samples.Count);
        var failed = new List<ImageFailure>();
        float s = Model.LogitScaleExp();
        for (int start = 0; start < samples.Count; start += batchSize)
        {
            ZeroShotSample[] batch = samples.Skip(start).Take(batchSize).ToArray();
            EvalImageBatch images = EvalImageReader.Read(batch.Select(b => b.ImagePath).ToArray(), Model.Transform);
            failed.AddRange(images.Failed);
            if (images.Kept.Length > 0)
            {
                float[] v = ImageEmbeddings(images.Pixels, images.Kept.Length);      // [n, E]
                ZeroShotSample[] ok = images.Kept.Select(i => batch[i]).ToArray();
                double[,] logits = Logits(v, ok.Select(o => o.BaseText).ToArray(), batchSize, s);
                for (int i = 0; i < ok.Length; i++)
                {
                    kept.Add(ok[i]);
                    var row = new double[k];
                    for (int c = 0; c < k; c++) row[c] = logits[i, c];
                    rows.Add(row);
                }
            }
            progress?.Invoke(Math.Min(start + batchSize, samples.Count), samples.Count);
        }
        var all = new double[rows.Count, k];
        for (int i = 0; i < rows.Count; i++)
            for (int c = 0; c < k; c++) all[i, c] = rows[i][c];
        return new ZeroShotResult(Task, kept, all, s, failed);
    }

    /// <summary>Global image embeddings [n, E] (L2-normalised) of <paramref name="n"/> transformed images [n, 3, S, S].</summary>
    public float[] ImageEmbeddings(float[] pixels, int n)
    {
        int side = Model.ImageSize;
        using Tensor x = Tensor.FromArray(pixels, [n, 3, side, side], Model.Device);
        using (GradMode.NoGrad()) return Model.Model.EncodeImage(x).Embedding.ToFloatArray();
    }

    /// <summary>
    /// logits [n, K] for images with embeddings <paramref name="imageEmbeddings"/> [n, E] and report
    /// bases <paramref name="bases"/> [n]; s = exp(logit_scale) unless given. New prompts are
    /// encoded in batches of <paramref name="textBatch"/>.
    /// </summary>
    public double[,] Logits(float[] imageEmbeddings, IReadOnlyList<string> bases, int textBatch = 16, float? scale = null)
    {
        ArgumentNullException.ThrowIfNull(imageEmbeddings);
        ArgumentNullException.ThrowIfNull(bases);
        int n = bases.Count, k = Task.ClassCount(), e = Model.Config.EmbedDim;
        if (imageEmbeddings.Length != n * e)
            throw new ArgumentException($"image embeddings hold {imageEmbeddings.Length} values, not {n} x {e}.", nameof(imageEmbeddings));
        IReadOnlyList<string>[] prompts = bases.Select(b => Task.Prompts(b)).ToArray();
        EncodePrompts(prompts.SelectMany(p => p), textBatch);
        float s = scale ?? Model.LogitScaleExp();
        var logits = new double[n, k];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> v = imageEmbeddings.AsSpan(i * e, e);
            for (int c = 0; c < k; c++)
            {
                // fp32 dot product and scaling, as the published mm and in-place multiply.
                float[] t = _prompts[prompts[i][c]];
                float dot = 0f;
                for (int j = 0; j < e; j++) dot += v[j] * t[j];
                logits[i, c] = dot * s;
            }
        }
        return logits;
    }

    /// <summary>The global embedding [E] of one prompt (encoded once, then cached).</summary>
    public float[] PromptEmbedding(string prompt)
    {
        EncodePrompts([prompt], 1);
        return _prompts[prompt];
    }

    private void EncodePrompts(IEnumerable<string> prompts, int batch)
    {
        string[] missing = prompts.Where(p => !_prompts.ContainsKey(p)).Distinct(StringComparer.Ordinal).ToArray();
        int e = Model.Config.EmbedDim;
        for (int start = 0; start < missing.Length; start += Math.Max(1, batch))
        {
            string[] chunk = missing.Skip(start).Take(Math.Max(1, batch)).ToArray();
            float[] t = TextEmbedder?.Invoke(chunk) ?? Model.TextEmbeddings(chunk);   // [chunk, E]
            for (int i = 0; i < chunk.Length; i++) _prompts[chunk[i]] = t.AsSpan(i * e, e).ToArray();
        }
    }
}
