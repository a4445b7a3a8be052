using System.Diagnostics;

namespace MaMA.Reliability.Tests.Support;

/// <summary>What a bounded run of a reader did: the exception it ended with (null: it returned),
/// the bytes it allocated on its thread, and how long it took.</summary>
internal sealed record Outcome(Exception? Error, long AllocatedBytes, TimeSpan Elapsed, object? Result);

/// <summary>
/// Runs a reader on a dedicated thread so that a hang is a test failure (the thread is abandoned
/// after the time limit, not killed: .NET cannot abort threads) and the allocation it made can be
/// measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> on that thread alone, without
/// the noise of other threads. NUnit's [CancelAfter] only works for code that observes a token,
/// which the readers do not take.
/// </summary>
internal static class Bounded
{
    public const int DefaultTimeoutMs = 20_000;

    public static Outcome Run(Func<object?> read, int timeoutMs = DefaultTimeoutMs)
    {
        Outcome? outcome = null;
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            try
            {
                object? result = read();
                outcome = new Outcome(null, GC.GetAllocatedBytesForCurrentThread() - before, sw.Elapsed, result);
            }
            catch (Exception e)
            {
                outcome = new Outcome(e, GC.GetAllocatedBytesForCurrentThread() - before, sw.Elapsed, null);
            }
        }, maxStackSize: 16 << 20) { IsBackground = true, Name = "bounded-reader" };
        thread.Start();
        if (!thread.Join(timeoutMs))
            Assert.Fail($"the reader did not finish within {timeoutMs} ms (a hang on hostile input).");
        return outcome!;
    }

    public static Outcome Run(Action read, int timeoutMs = DefaultTimeoutMs) => Run(() =>
    {
        read();
        return null;
    }, timeoutMs);
}
