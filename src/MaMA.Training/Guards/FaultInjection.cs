using System.Globalization;
using MaMA.Data.Loading;

namespace MaMA.Training.Guards;

/// <summary>
/// Test hooks for the fault tests of tests/MaMA.Reliability.Tests/Faults, which run the real CLI in
/// a child process (docs/reliability.md, "Fault tests"). Each is read from an environment variable
/// once, and does nothing when the variable is unset, so an ordinary run never sees them:
/// <list type="bullet">
/// <item><c>MAMA_FAULT_NAN_AT_STEP=K</c>: a NaN is written into view 1 of the first micro-batch of
/// optimizer step K (1-based, the step number metrics.jsonl shows), as a damaged image would.</item>
/// <item><c>MAMA_FAULT_CHECKPOINT_PAUSE=K:POINT</c>: the checkpoint writer of step K stops at
/// POINT (<c>model</c>: model.safetensors is complete in the temporary folder; <c>optimizer</c>:
/// optimizer.safetensors too; <c>state</c>: state.json too, just before the rename), prints
/// <c>fault hook: paused ...</c> to stderr and sleeps, so a test can kill -9 the writer there.</item>
/// </list>
/// </summary>
public static class FaultInjection
{
    public const string NanAtStepVariable = "MAMA_FAULT_NAN_AT_STEP";
    public const string CheckpointPauseVariable = "MAMA_FAULT_CHECKPOINT_PAUSE";

    private static readonly long? NanAtStep = ParseStep(Environment.GetEnvironmentVariable(NanAtStepVariable));
    private static readonly (long Step, string Point)? CheckpointPause = ParsePause(Environment.GetEnvironmentVariable(CheckpointPauseVariable));

    /// <summary>Called with each micro-batch of 0-based optimizer step <paramref name="s"/> before its forward.</summary>
    public static void OnBatch(long s, int micro, MammoBatch batch)
    {
        if (NanAtStep is not { } k || s + 1 != k || micro != 0) return;
        batch.View1[0] = float.NaN;
        Console.Error.WriteLine($"fault hook: NaN put into view 1 of step {k}, micro-batch 0 ({NanAtStepVariable})");
    }

    /// <summary>Called by the checkpoint writer of step <paramref name="step"/> at <paramref name="point"/>.</summary>
    internal static void AtCheckpointPoint(long step, string point, string folder)
    {
        if (CheckpointPause is not { } p || p.Step != step || p.Point != point) return;
        Console.Error.WriteLine($"fault hook: paused writing checkpoint step {step} after '{point}' in {folder} ({CheckpointPauseVariable})");
        Console.Error.Flush();
        Thread.Sleep(TimeSpan.FromMinutes(10));
    }

    private static long? ParseStep(string? text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long k) && k > 0 ? k : null;

    private static (long, string)? ParsePause(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        string[] parts = text.Split(':');
        if (parts.Length == 2 && ParseStep(parts[0]) is { } step && parts[1] is "model" or "optimizer" or "state") return (step, parts[1]);
        Console.Error.WriteLine($"warning: {CheckpointPauseVariable}='{text}' is not STEP:model|optimizer|state; ignored.");
        return null;
    }
}
