using MaMA.Evaluation.Metrics;

namespace MaMA.Evaluation.Tests.Metrics;

[TestFixture]
public sealed class AucTests
{
    [Test]
    public void DistinctScoresCountTheOrderedPairs()
    {
        // Positives 0.35, 0.8 against negatives 0.1, 0.4: 0.35 > 0.1, 0.35 < 0.4, 0.8 > both -> 3 / 4.
        Assert.That(Auc.Binary([false, false, true, true], [0.1, 0.4, 0.35, 0.8]), Is.EqualTo(0.75).Within(1e-15));
    }

    [Test]
    public void TiedScoresCountOneHalf()
    {
        // Positives {0.5, 0.9}, negatives {0.5, 0.5}: (0.5, 0.5) twice -> 1/2 + 1/2, 0.9 beats both -> 2; 3 / 4.
        // Ranks: 0.5 x3 share (1+2+3)/3 = 2, 0.9 is 4; R+ = 2 + 4 = 6; (6 - 2*3/2) / (2*2) = 0.75.
        // sklearn: roc_curve points (0,0), (0,0.5), (1,1); trapezoid 0.75. (The issue text's 0.8333 is not
        // attainable with 2 x 2 pairs: every AUC of this input is a multiple of 1/8.)
        Assert.That(Auc.Binary([false, true, false, true], [0.5, 0.5, 0.5, 0.9]), Is.EqualTo(0.75).Within(1e-15));
        Assert.That(Auc.Binary([false, true, false, true], [0.5, 0.5, 0.5, 0.5]), Is.EqualTo(0.5).Within(1e-15));
    }

    [Test]
    public void MissingClassIsNaN()
    {
        Assert.That(Auc.Binary([true, true, true], [0.1, 0.2, 0.3]), Is.NaN);
        Assert.That(Auc.Binary([false, false], [0.1, 0.2]), Is.NaN);
    }

    [Test]
    public void BinaryTableUsesTheClassOneColumn()
    {
        // Positives beat negatives in 3 + 3 + 5 + 5 + 5 = 21 of 25 pairs.
        (double[,] p, int[] labels) = Examples.Binary();
        Assert.That(Auc.Compute(ScoreTable.FromProbabilities(p, labels)), Is.EqualTo(0.84).Within(1e-15));
    }

    [Test]
    public void OneVsRestMacroByHand()
    {
        // Class 0, column [0.7 0.3 0.2 0.5 0.1 0.3], positives 0.7, 0.3 vs 0.2 0.5 0.1 0.3:
        //   0.7 beats 4; 0.3 beats 0.2 and 0.1, ties 0.3, loses to 0.5 -> 2.5; 6.5 / 8 = 0.8125.
        // Class 1, column [0.2 0.4 0.5 0.3 0.3 0.3], positives 0.5, 0.3 vs 0.2 0.4 0.3 0.3:
        //   0.5 beats 4; 0.3 beats 0.2, ties twice -> 2; 6 / 8 = 0.75.
        // Class 2, positives 0.6, 0.4 beat every negative (0.1 0.3 0.3 0.2): 1.
        // Macro = (0.8125 + 0.75 + 1) / 3 = 0.8541666...
        (double[,] p, int[] labels) = Examples.ThreeClass();
        var table = ScoreTable.FromProbabilities(p, labels);
        Assert.That(Auc.OneVsRest(table), Is.EqualTo(new[] { 0.8125, 0.75, 1.0 }).Within(1e-15));
        Assert.That(Auc.Compute(table), Is.EqualTo(2.5625 / 3).Within(1e-15));
    }

    [Test]
    public void OneVsRestWithAnAbsentClassIsNaN()
    {
        double[,] p = { { 0.6, 0.3, 0.1 }, { 0.2, 0.7, 0.1 }, { 0.5, 0.4, 0.1 } };
        var table = ScoreTable.FromProbabilities(p, [0, 1, 0]);
        double[] perClass = Auc.OneVsRest(table);
        Assert.That(perClass[0], Is.EqualTo(1.0));
        Assert.That(perClass[2], Is.NaN);
        Assert.That(Auc.Compute(table), Is.NaN);
    }

    [Test]
    public void MannWhitneyEqualsPairCountingAndTheRocArea()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 50; trial++)
        {
            int n = rng.Next(2, 60);
            // Scores on a coarse grid so that ties are common.
            double[] scores = Enumerable.Range(0, n).Select(_ => rng.Next(0, 8) / 8.0).ToArray();
            bool[] positive = Enumerable.Range(0, n).Select(_ => rng.NextDouble() < 0.4).ToArray();
            double pairs = 0;
            int p = 0, q = 0;
            for (int i = 0; i < n; i++)
            {
                if (positive[i]) p++; else q++;
                for (int j = 0; j < n; j++)
                    if (positive[i] && !positive[j]) pairs += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
            }
            double expected = p == 0 || q == 0 ? double.NaN : pairs / (p * q);
            double auc = Auc.Binary(positive, scores);
            if (double.IsNaN(expected))
            {
                Assert.That(auc, Is.NaN);
                continue;
            }
            Assert.That(auc, Is.EqualTo(expected).Within(1e-12));
            Assert.That(RocCurve.Compute(positive, scores).Area(), Is.EqualTo(expected).Within(1e-12));
            Assert.That(RocCurve.Compute(positive, scores, dropIntermediate: false).Area(), Is.EqualTo(expected).Within(1e-12));
        }
    }
}
