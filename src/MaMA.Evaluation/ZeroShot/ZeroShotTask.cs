using MaMA.Data.Reports;

namespace MaMA.Evaluation.ZeroShot;

/// <summary>The zero-shot classification tasks of the paper (SPEC sections 1 and 7).</summary>
public enum ZeroShotTask
{
    /// <summary>BI-RADS, 7 classes in the order A N B P S M K (BI-RADS 0-6), EMBED.</summary>
    Birads,

    /// <summary>Breast density, 4 classes (density 1-4), EMBED.</summary>
    Density,

    /// <summary>Cancer, 2 classes (negative, positive), RSNA-Mammo; the prompts have an empty base.</summary>
    Rsna,
}

/// <summary>Names, class names and instance prompts of each <see cref="ZeroShotTask"/>.</summary>
public static class ZeroShotTasks
{
    /// <summary>"birads", "density" or "rsna".</summary>
    public static string Name(this ZeroShotTask task) => task.ToString().ToLowerInvariant();

    /// <summary>Parses a command-line name; null when unknown.</summary>
    public static ZeroShotTask? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        "birads" or "bi-rads" => ZeroShotTask.Birads,
        "density" => ZeroShotTask.Density,
        "rsna" or "cancer" => ZeroShotTask.Rsna,
        _ => null,
    };

    /// <summary>K.</summary>
    public static int ClassCount(this ZeroShotTask task) => task switch
    {
        ZeroShotTask.Birads => ReportVocabulary.BiradsClasses,
        ZeroShotTask.Density => ReportVocabulary.DensityClasses,
        ZeroShotTask.Rsna => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>Class names in class-index order (CSV headers, plot labels); no commas.</summary>
    public static IReadOnlyList<string> ClassNames(this ZeroShotTask task) => task switch
    {
        ZeroShotTask.Birads => Enumerable.Range(0, ReportVocabulary.BiradsClasses).Select(k => $"BI-RADS {k}").ToArray(),
        ZeroShotTask.Density => Enumerable.Range(1, ReportVocabulary.DensityClasses).Select(d => $"density {d}").ToArray(),
        ZeroShotTask.Rsna => ["cancer negative", "cancer positive"],
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>
    /// The K class prompts for an image whose report base (procedure, reason, patient info, image
    /// info) is <paramref name="baseText"/>; RSNA ignores the base (its prompts have none).
    /// </summary>
    public static IReadOnlyList<string> Prompts(this ZeroShotTask task, string baseText) => task switch
    {
        ZeroShotTask.Birads => ZeroShotPrompts.Birads(baseText),
        ZeroShotTask.Density => ZeroShotPrompts.Density(baseText),
        ZeroShotTask.Rsna => ZeroShotPrompts.Rsna(),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };
}
