using MaMA.Data.Reports;

namespace MaMA.Evaluation.Explain;

/// <summary>
/// The sentences of a report as the model sees them: the tokenizer puts a SEP token in place of
/// every "." and ";", and the hidden state at each SEP is that sentence's feature. Sentence i is
/// the text from the end of sentence i - 1 to the i-th "." or ";" (included), trimmed.
/// </summary>
public static class ReportSentences
{
    /// <summary>Every SEP-terminated sentence of <paramref name="report"/>, in order (text after the last "." or ";" is not a sentence).</summary>
    public static IReadOnlyList<string> Split(string report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var sentences = new List<string>();
        int start = 0;
        for (int i = 0; i < report.Length; i++)
        {
            if (report[i] is not ('.' or ';')) continue;
            sentences.Add(report[start..(i + 1)].Trim());
            start = i + 1;
        }
        return sentences;
    }

    /// <summary>
    /// The base of a structured report for the instance prompts: the text before "Breast
    /// composition:" (or before "Findings:" when there is no composition part), i.e. procedure,
    /// reason, patient info and image info; empty when neither marker occurs.
    /// </summary>
    public static string Base(string report)
    {
        ArgumentNullException.ThrowIfNull(report);
        foreach (string marker in new[] { ReportVocabulary.CompositionPrefix, ReportVocabulary.FindingsPrefix })
        {
            int at = report.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0) return report[..at];
        }
        return "";
    }
}
