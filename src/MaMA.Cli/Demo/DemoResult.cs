using MaMA.Data.Synthetic;
using MaMA.Training.Config;
using MaMA.Training.Pretraining;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Demo;

/// <summary>What one <c>mama demo</c> run did and measured (the content of report.json).</summary>
/// <param name="Directory">The output folder (absolute).</param>
/// <param name="Data">The synthetic dataset written.</param>
/// <param name="Training">The pre-training config the run used.</param>
/// <param name="Pretraining">How pre-training ended.</param>
/// <param name="Parameters">Parameters of the MaMA model.</param>
/// <param name="Evaluations">Zero-shot and linear-probe results, in the order run.</param>
/// <param name="Times">Wall and CPU seconds per phase.</param>
public sealed record DemoResult(
    string Directory,
    DemoSettings Settings,
    Device Device,
    SynthSummary Data,
    TrainingConfig Training,
    PretrainResult Pretraining,
    long Parameters,
    IReadOnlyList<DemoEvaluation> Evaluations,
    PhaseTimes Times)
{
    public DemoEvaluation this[string key] => Evaluations.Single(e => e.Key == key);
}
