using MaMA.Evaluation.Metrics;

namespace MaMA.Cli.Demo;

/// <summary>One scored evaluation of the demo (a zero-shot task or a linear probe) on the class-balanced test subset.</summary>
/// <param name="Key">Its key in report.json, e.g. <c>zero_shot_density</c>.</param>
/// <param name="Title">For people, e.g. "zero-shot density".</param>
/// <param name="Task">"density" or "birads".</param>
/// <param name="ClassNames">Class names in class-index order.</param>
/// <param name="Report">Every metric of SPEC section 7.</param>
/// <param name="Directory">The folder its files were written to (absolute).</param>
public sealed record DemoEvaluation(string Key, string Title, string Task, IReadOnlyList<string> ClassNames, MetricsReport Report, string Directory)
{
    /// <summary>Balanced accuracy of a classifier that ignores its input.</summary>
    public double Chance => 1.0 / ClassNames.Count;

    /// <summary>The pictures in <see cref="Directory"/> (confusion matrix, ROC, loss curve: whichever the evaluation wrote).</summary>
    public IReadOnlyList<string> Pictures =>
        System.IO.Directory.Exists(Directory) ? System.IO.Directory.GetFiles(Directory, "*.png").Order(StringComparer.Ordinal).ToArray() : [];
}
