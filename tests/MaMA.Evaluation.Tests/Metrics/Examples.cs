namespace MaMA.Evaluation.Tests.Metrics;

/// <summary>Small score tables whose metrics are worked out by hand in the tests' comments.</summary>
internal static class Examples
{
    /// <summary>
    /// Binary, 10 samples: negatives score p1 = 0.1, 0.2, 0.3, 0.6, 0.7; positives 0.4, 0.55, 0.8,
    /// 0.9, 0.95 (p0 = 1 - p1). Argmax decision = p1 &gt; 0.5: TN 3, FP 2, FN 1, TP 4.
    /// </summary>
    public static (double[,] P, int[] Labels) Binary()
    {
        double[] p1 = [0.1, 0.2, 0.3, 0.6, 0.7, 0.4, 0.55, 0.8, 0.9, 0.95];
        int[] labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
        return (TwoColumns(p1), labels);
    }

    /// <summary>
    /// Three classes, 6 samples (labels 0 0 1 1 2 2); argmax predictions 0 1 1 0 2 2.
    /// </summary>
    public static (double[,] P, int[] Labels) ThreeClass()
    {
        double[,] p =
        {
            { 0.7, 0.2, 0.1 },
            { 0.3, 0.4, 0.3 },
            { 0.2, 0.5, 0.3 },
            { 0.5, 0.3, 0.2 },
            { 0.1, 0.3, 0.6 },
            { 0.3, 0.3, 0.4 },
        };
        return (p, [0, 0, 1, 1, 2, 2]);
    }

    public static double[,] TwoColumns(double[] p1)
    {
        var p = new double[p1.Length, 2];
        for (int i = 0; i < p1.Length; i++)
        {
            p[i, 0] = 1 - p1[i];
            p[i, 1] = p1[i];
        }
        return p;
    }

    public static bool[] Positive(int[] labels, int positiveClass = 1) => labels.Select(l => l == positiveClass).ToArray();
}
