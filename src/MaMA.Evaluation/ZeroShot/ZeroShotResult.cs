using MaMA.Data.Labels;
using MaMA.Evaluation.Embedding;
using MaMA.Evaluation.Metrics;

namespace MaMA.Evaluation.ZeroShot;

/// <summary>
/// What <see cref="ZeroShotClassifier.Classify"/> gives: the class scores of every image that
/// could be read, in sample order, and the images that could not.
/// </summary>
/// <param name="Samples">The classified samples (unreadable ones left out), row i of <paramref name="Logits"/>.</param>
/// <param name="Logits">[N, K]: s * (image embedding . prompt embedding), s = exp(logit_scale).</param>
/// <param name="LogitScale">s.</param>
/// <param name="Failed">Images that could not be read, with the reason; not in <paramref name="Samples"/>.</param>
public sealed record ZeroShotResult(DownstreamTask Task, IReadOnlyList<ZeroShotSample> Samples, double[,] Logits, float LogitScale, IReadOnlyList<ImageFailure> Failed)
{
    public int[] Labels => Samples.Select(s => s.Label).ToArray();

    /// <summary>Softmax over the classes of each row, with the labels (the input of <see cref="ClassificationMetrics.Compute"/>).</summary>
    public ScoreTable Table() => ScoreTable.FromLogits(Logits, Labels);
}
