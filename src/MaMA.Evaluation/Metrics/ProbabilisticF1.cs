namespace MaMA.Evaluation.Metrics;

/// <summary>
/// Probabilistic F-beta (the RSNA screening challenge's pF1; published <c>pfbeta</c>): F computed from
/// probabilities instead of hard decisions. With p_i = clip(score_i, 0, 1),
/// ctp = sum of p over positives, cfp = sum of p over negatives, P = #positives:
/// precision = ctp / (ctp + cfp), recall = ctp / P,
/// pF_beta = (1 + beta^2) precision recall / (beta^2 precision + recall) when both are &gt; 0, else 0.
/// <para>
/// Degenerate cases: no positives makes recall 0 / 0, so the result is NaN (undefined); all clipped
/// scores 0 (ctp + cfp = 0) gives 0, as the published code does with numpy floats (precision NaN,
/// which fails the "&gt; 0" test).
/// </para>
/// </summary>
public static class ProbabilisticF1
{
    public static double Compute(ReadOnlySpan<bool> positive, ReadOnlySpan<double> scores, double beta = 1)
    {
        if (positive.Length != scores.Length) throw new ArgumentException($"{positive.Length} labels but {scores.Length} scores.");
        double ctp = 0, cfp = 0;
        int positives = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            double p = Math.Clamp(scores[i], 0, 1);
            if (positive[i])
            {
                positives++;
                ctp += p;
            }
            else
            {
                cfp += p;
            }
        }
        if (positives == 0) return double.NaN;
        if (ctp + cfp == 0) return 0;
        double precision = ctp / (ctp + cfp);
        double recall = ctp / positives;
        double b2 = beta * beta;
        return precision > 0 && recall > 0 ? (1 + b2) * precision * recall / (b2 * precision + recall) : 0;
    }
}
