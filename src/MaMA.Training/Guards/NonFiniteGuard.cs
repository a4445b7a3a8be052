namespace MaMA.Training.Guards;

/// <summary>
/// Watches each optimizer step's loss (and gradient norm): a NaN or infinite value means the step
/// is skipped (no update) and counted. After <see cref="MaxInARow"/> such steps in a row the run
/// must stop; the last good checkpoint stays the newest one because a skipped step writes none.
/// The counters are part of the checkpoint so a resumed run continues them.
/// </summary>
public sealed class NonFiniteGuard
{
    public NonFiniteGuard(int maxInARow, long skippedTotal = 0, int inARow = 0)
    {
        if (maxInARow < 1) throw new ArgumentOutOfRangeException(nameof(maxInARow), $"max_nonfinite_in_a_row must be at least 1, not {maxInARow}.");
        if (skippedTotal < 0 || inARow < 0 || inARow > skippedTotal) throw new ArgumentOutOfRangeException(nameof(inARow), "Invalid skipped-step counters.");
        MaxInARow = maxInARow;
        SkippedTotal = skippedTotal;
        InARow = inARow;
    }

    public int MaxInARow { get; }

    /// <summary>Steps skipped since the run began.</summary>
    public long SkippedTotal { get; private set; }

    /// <summary>Steps skipped since the last good one.</summary>
    public int InARow { get; private set; }

    /// <summary>True once <see cref="InARow"/> reached <see cref="MaxInARow"/>.</summary>
    public bool ShouldStop => InARow >= MaxInARow;

    /// <summary>True when every value is finite (the step may be applied); otherwise counts a skipped step.</summary>
    public bool Check(params ReadOnlySpan<double> values)
    {
        foreach (double v in values)
        {
            if (double.IsFinite(v)) continue;
            SkippedTotal++;
            InARow++;
            return false;
        }
        InARow = 0;
        return true;
    }

    /// <summary>The message a stopped run ends with.</summary>
    public string StopMessage(long step) =>
        $"{InARow} optimizer steps in a row had a non-finite loss or gradient (NaN/Inf), up to step {step}; " +
        $"stopping ({SkippedTotal} skipped in all). The newest checkpoint is the last good state: lower optimizer.lr, " +
        "turn on grad_clip, or use precision fp32, then resume.";
}
