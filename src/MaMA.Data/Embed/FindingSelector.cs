using MaMA.Data.Reports;

namespace MaMA.Data.Embed;

/// <summary>
/// Chooses the clinical (finding) row that describes an image (SPEC section 1): rows of its study
/// whose <c>side</c> equals the image laterality; if none, rows with side B; if none, all rows of
/// the study. Among them, <c>asses</c> maps to BI-RADS (A0 N1 B2 P3 S4 M5 K6); if max &lt;= 2 and
/// min == 0 the first arg-min is taken, else the first arg-max; with no valid <c>asses</c>, the
/// first row.
/// </summary>
public static class FindingSelector
{
    /// <summary>
    /// Returns the position of the chosen row in <paramref name="sides"/>/<paramref name="assessments"/>
    /// (the study's rows in file order), or -1 when the study has no rows.
    /// </summary>
    /// <param name="sides">The <c>side</c> value of each row of the study.</param>
    /// <param name="assessments">The <c>asses</c> value of each row of the study.</param>
    /// <param name="laterality">The image's <c>ImageLateralityFinal</c>; a missing value matches no row.</param>
    /// <param name="indexing">How the arg-min/arg-max position is applied (see <see cref="FindingRowIndexing"/>).</param>
    public static int Select(IReadOnlyList<string> sides, IReadOnlyList<string> assessments, string? laterality,
        FindingRowIndexing indexing = FindingRowIndexing.Reference)
    {
        if (sides.Count != assessments.Count) throw new ArgumentException("sides and assessments must have the same length.");
        if (sides.Count == 0) return -1;

        var group = new List<int>();
        if (!ReportFields.IsMissing(laterality))
        {
            for (int i = 0; i < sides.Count; i++)
                if (sides[i] == laterality) group.Add(i);
        }
        if (group.Count == 0)
        {
            for (int i = 0; i < sides.Count; i++)
                if (sides[i] == "B") group.Add(i);
        }
        if (group.Count == 0)
            group.AddRange(Enumerable.Range(0, sides.Count));

        // Positions (within the group) of rows with a valid assessment, and their BI-RADS.
        var validPos = new List<int>();
        var birads = new List<int>();
        for (int g = 0; g < group.Count; g++)
        {
            if (ReportVocabulary.BiradsOf(assessments[group[g]]) is int b)
            {
                validPos.Add(g);
                birads.Add(b);
            }
        }
        if (birads.Count == 0) return group[0];

        int max = birads.Max(), min = birads.Min();
        int idx = max <= 2 && min == 0 ? birads.IndexOf(min) : birads.IndexOf(max);
        int pos = indexing == FindingRowIndexing.Reference ? idx : validPos[idx];
        return group[pos];
    }
}

/// <summary>How <see cref="FindingSelector"/> applies the arg-min/arg-max position.</summary>
public enum FindingRowIndexing
{
    /// <summary>
    /// As the published implementation: the position is counted among the rows with a valid
    /// <c>asses</c> but applied to all rows of the group. The two agree whenever every row of the
    /// group has a valid <c>asses</c>; otherwise the chosen row may be another one (and may even be a
    /// row without a valid assessment, which is then skipped as missing the assessment).
    /// </summary>
    Reference,

    /// <summary>The position is mapped back to the row that holds the chosen BI-RADS value.</summary>
    ValidRowsOnly,
}
