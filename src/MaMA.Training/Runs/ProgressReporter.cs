using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace MaMA.Training.Runs;

/// <summary>
/// Progress of a training loop: a Spectre.Console bar (step, losses, images/s, ETA) on a terminal,
/// or plain lines every <c>plainEvery</c> steps when the output is redirected (logs, CI, tests).
/// The loop runs inside <see cref="Run{T}"/> and calls <see cref="Update"/> after each step.
/// </summary>
public sealed class ProgressReporter
{
    private readonly long _total;
    private readonly long _start;
    private readonly int _plainEvery;
    private readonly TextWriter? _plain;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private ProgressTask? _task;

    private ProgressReporter(long total, long start, int plainEvery, TextWriter? plain)
    {
        _total = total;
        _start = start;
        _plainEvery = Math.Max(1, plainEvery);
        _plain = plain;
    }

    /// <summary>True when no terminal is attached to stdout (then plain lines are written).</summary>
    public static bool OutputIsRedirected => Console.IsOutputRedirected;

    /// <summary>
    /// Runs <paramref name="body"/> with a reporter counting steps <paramref name="start"/>..<paramref name="total"/>.
    /// <paramref name="plain"/> forces plain lines to that writer (tests); by default they go to stdout
    /// when it is redirected, and a live bar is drawn otherwise.
    /// </summary>
    public static T Run<T>(string title, long total, long start, Func<ProgressReporter, T> body, int plainEvery = 10, TextWriter? plain = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (plain is not null || OutputIsRedirected) return body(new ProgressReporter(total, start, plainEvery, plain ?? Console.Out));
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(1, total));
                task.Value = start;
                var reporter = new ProgressReporter(total, start, plainEvery, null) { _task = task };
                result = body(reporter);
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>Reports that <paramref name="step"/> steps are done; <paramref name="status"/> is the loss summary.</summary>
    public void Update(long step, string status, double imagesPerSecond)
    {
        string line = $"step {step}/{_total}  {status}  {imagesPerSecond.ToString("F1", CultureInfo.InvariantCulture)} img/s";
        if (_task is not null)
        {
            _task.Value = step;
            _task.Description = Markup.Escape(line);
            return;
        }
        if (step % _plainEvery != 0 && step != _total) return;
        _plain!.WriteLine($"{line}  ETA {FormatEta(Eta(step))}");
        _plain.Flush();
    }

    /// <summary>A message above the bar (or a plain line).</summary>
    public void Message(string text)
    {
        if (_task is not null) AnsiConsole.MarkupLine(Markup.Escape(text));
        else
        {
            _plain!.WriteLine(text);
            _plain.Flush();
        }
    }

    /// <summary>Remaining time from the pace since this reporter started.</summary>
    public TimeSpan? Eta(long step)
    {
        long done = step - _start;
        if (done <= 0) return null;
        double perStep = _clock.Elapsed.TotalSeconds / done;
        return TimeSpan.FromSeconds(perStep * Math.Max(0, _total - step));
    }

    public static string FormatEta(TimeSpan? eta) => eta is { } t
        ? (t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}" : $"{t.Minutes:D2}:{t.Seconds:D2}")
        : "--:--";
}
