using MaMA.Engine.Tensors;

namespace MaMA.Model.MaMA;

/// <summary>
/// In-batch retrieval accuracy in percent, as the published <c>precision_at_k</c>: pair i is right
/// at k when its own column is among the k highest scores of row i. I2T ranks reports for each
/// image (rows of v t^T), T2I images for each report (rows of t v^T). k is capped at N (the
/// published code needs N &gt;= 5). Ties rank the lower index first.
/// </summary>
public sealed record RetrievalAccuracy(float I2TTop1, float I2TTop5, float T2ITop1, float T2ITop5)
{
    /// <summary>Mean of the two directions (the published <c>acc1</c>).</summary>
    public float Top1 => (I2TTop1 + T2ITop1) / 2f;

    /// <summary>Mean of the two directions (the published <c>acc5</c>).</summary>
    public float Top5 => (I2TTop5 + T2ITop5) / 2f;

    /// <summary>From the L2-normalised global embeddings image [N, E] and text [N, E].</summary>
    public static RetrievalAccuracy FromEmbeddings(Tensor image, Tensor text)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(text);
        if (image.Rank != 2 || text.Rank != 2 || image.Shape[0] != text.Shape[0] || image.Shape[1] != text.Shape[1])
            throw new ArgumentException($"retrieval accuracy needs image and text of equal shape [N, E], got {Shape.Format(image.Shape)} and {Shape.Format(text.Shape)}.");
        int n = image.Shape[0], e = image.Shape[1];
        float[] v = image.ToFloatArray(), t = text.ToFloatArray();
        var scores = new double[n * n];                       // scores[i, j] = v_i . t_j
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int c = 0; c < e; c++) s += (double)v[i * e + c] * t[j * e + c];
                scores[i * n + j] = s;
            }
        return FromScores(scores, n);
    }

    /// <summary>From image-by-text scores [N, N] (row-major, rows images).</summary>
    public static RetrievalAccuracy FromScores(double[] scores, int n)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Length != n * n) throw new ArgumentException($"scores must hold N * N = {n * n} values, got {scores.Length}.", nameof(scores));
        (float i1, float i5) = TopK(n, (i, j) => scores[i * n + j]);
        (float t1, float t5) = TopK(n, (i, j) => scores[j * n + i]);
        return new RetrievalAccuracy(i1, i5, t1, t5);
    }

    // Rank of the diagonal entry in each row; percent of rows with rank < 1 and < min(5, N).
    private static (float Top1, float Top5) TopK(int n, Func<int, int, double> score)
    {
        if (n == 0) return (0f, 0f);
        int hit1 = 0, hit5 = 0, k5 = Math.Min(5, n);
        for (int i = 0; i < n; i++)
        {
            double own = score(i, i);
            int rank = 0;
            for (int j = 0; j < n; j++)
            {
                double s = score(i, j);
                if (s > own || (s == own && j < i)) rank++;
            }
            if (rank < 1) hit1++;
            if (rank < k5) hit5++;
        }
        return (100f * hit1 / n, 100f * hit5 / n);
    }
}
