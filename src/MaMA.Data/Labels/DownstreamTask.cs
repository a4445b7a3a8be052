using MaMA.Data.Embed;
using MaMA.Data.Reports;

namespace MaMA.Data.Labels;

/// <summary>
/// The paper's downstream classification tasks (SPEC sections 1 and 7), which zero-shot
/// classification, linear probing and fine-tuning all evaluate: EMBED's BI-RADS (7 classes, A N B
/// P S M K = BI-RADS 0-6) and breast density (4 classes, density 1-4), and RSNA-Mammo's cancer
/// (2 classes, negative and positive).
/// </summary>
public enum DownstreamTask
{
    Birads,
    Density,
    Rsna,
}

/// <summary>Names, sizes and EMBED labels of each <see cref="DownstreamTask"/>, written once for every command.</summary>
public static class DownstreamTasks
{
    /// <summary>The name on the command line and in run records: "birads", "density" or "rsna".</summary>
    public static string Name(this DownstreamTask task) => task switch
    {
        DownstreamTask.Birads => "birads",
        DownstreamTask.Density => "density",
        DownstreamTask.Rsna => "rsna",
        _ => throw new ArgumentOutOfRangeException(nameof(task), task, null),
    };

    /// <summary>The task named <paramref name="name"/> (also "bi-rads" and "cancer", any case), or null.</summary>
    public static DownstreamTask? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        "birads" or "bi-rads" => DownstreamTask.Birads,
        "density" => DownstreamTask.Density,
        "rsna" or "cancer" => DownstreamTask.Rsna,
        _ => null,
    };

    /// <summary>K, the number of classes.</summary>
    public static int ClassCount(this DownstreamTask task) => task switch
    {
        DownstreamTask.Birads => ReportVocabulary.BiradsClasses,
        DownstreamTask.Density => ReportVocabulary.DensityClasses,
        DownstreamTask.Rsna => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(task), task, null),
    };

    /// <summary>Whether the task's images and labels come from an EMBED-shaped folder (else an RSNA-Mammo folder).</summary>
    public static bool IsEmbed(this DownstreamTask task) => task != DownstreamTask.Rsna;

    /// <summary>
    /// The 0-based class of an EMBED image for the task: its BI-RADS category, or its density class
    /// (null for density 5, "normal male dense", which is not a class).
    /// </summary>
    public static int? EmbedLabel(this DownstreamTask task, EmbedRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return task switch
        {
            DownstreamTask.Birads => record.Birads,
            DownstreamTask.Density => record.DensityLabel,
            _ => throw new ArgumentException($"{task.Name()} is not an EMBED task: its images are in an RSNA-Mammo folder.", nameof(task)),
        };
    }
}
