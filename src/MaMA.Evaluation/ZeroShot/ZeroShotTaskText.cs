using MaMA.Data.Labels;
using MaMA.Data.Reports;

namespace MaMA.Evaluation.ZeroShot;

/// <summary>What zero-shot classification shows and says for each <see cref="DownstreamTask"/>: class names and prompts.</summary>
public static class ZeroShotTaskText
{
    /// <summary>Class names in class-index order (CSV headers, plot labels); no commas.</summary>
    public static IReadOnlyList<string> ClassNames(this DownstreamTask task) => task switch
    {
        DownstreamTask.Birads => Enumerable.Range(0, ReportVocabulary.BiradsClasses).Select(k => $"BI-RADS {k}").ToArray(),
        DownstreamTask.Density => Enumerable.Range(1, ReportVocabulary.DensityClasses).Select(d => $"density {d}").ToArray(),
        DownstreamTask.Rsna => ["cancer negative", "cancer positive"],
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>
    /// The K class prompts for an image whose report base (procedure, reason, patient info, image
    /// info) is <paramref name="baseText"/>; RSNA ignores the base (its prompts have none).
    /// </summary>
    public static IReadOnlyList<string> Prompts(this DownstreamTask task, string baseText) => task switch
    {
        DownstreamTask.Birads => ZeroShotPrompts.Birads(baseText),
        DownstreamTask.Density => ZeroShotPrompts.Density(baseText),
        DownstreamTask.Rsna => ZeroShotPrompts.Rsna(),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };
}
