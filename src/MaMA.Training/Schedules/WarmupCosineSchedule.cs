namespace MaMA.Training.Schedules;

/// <summary>
/// Learning rate per optimizer step, as the published CosineAnnealingWarmupRestarts with one cycle
/// of <see cref="TotalSteps"/> (cycle_mult 1): step s (0-based, the s-th update) uses
/// <list type="bullet">
/// <item>s &lt; W: min + (max - min) s / W (linear warm-up from the floor; step 0 uses the floor),</item>
/// <item>W &lt;= s &lt; N: min + (max - min) (1 + cos(pi (s - W) / (N - W))) / 2,</item>
/// <item>s &gt;= N: min (the floor; the reference would restart a cycle, training stops at N instead).</item>
/// </list>
/// W = warm-up steps, N = total steps, max = peak lr, min = floor.
/// </summary>
public sealed record WarmupCosineSchedule
{
    public WarmupCosineSchedule(double maxLr, double minLr, long warmupSteps, long totalSteps)
    {
        if (!(maxLr >= 0.0) || double.IsInfinity(maxLr)) throw new ArgumentOutOfRangeException(nameof(maxLr), $"Peak learning rate must be finite and >= 0, not {maxLr}.");
        if (!(minLr >= 0.0) || minLr > maxLr) throw new ArgumentOutOfRangeException(nameof(minLr), $"Minimum learning rate must be in [0, {maxLr}], not {minLr}.");
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), $"Total steps must be at least 1, not {totalSteps}.");
        if (warmupSteps < 0 || warmupSteps > totalSteps) throw new ArgumentOutOfRangeException(nameof(warmupSteps), $"Warm-up steps must be in [0, {totalSteps}], not {warmupSteps}.");
        MaxLr = maxLr;
        MinLr = minLr;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
    }

    public double MaxLr { get; }

    public double MinLr { get; }

    public long WarmupSteps { get; }

    public long TotalSteps { get; }

    /// <summary>The learning rate of update <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), $"Step must be >= 0, not {step}.");
        if (step < WarmupSteps) return MinLr + (MaxLr - MinLr) * step / WarmupSteps;
        if (step >= TotalSteps) return MinLr;
        double progress = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return MinLr + (MaxLr - MinLr) * (1.0 + Math.Cos(Math.PI * progress)) / 2.0;
    }
}
