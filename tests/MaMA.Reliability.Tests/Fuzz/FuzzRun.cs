using System.Diagnostics;

namespace MaMA.Reliability.Tests.Fuzz;

/// <summary>What one reader's fuzz run saw: iterations, how they ended, and findings (anything but an expected error).</summary>
internal sealed class FuzzReport(string reader)
{
    public string Reader { get; } = reader;
    public int Iterations { get; set; }
    public int Accepted { get; set; }
    public Dictionary<string, int> Rejected { get; } = new(StringComparer.Ordinal);
    public List<string> Findings { get; } = [];
    public TimeSpan Elapsed { get; set; }
    public TimeSpan Slowest { get; set; }
    public long MostAllocated { get; set; }

    public override string ToString() =>
        $"{Reader}: {Iterations} iterations in {Elapsed.TotalSeconds:F1} s, {Accepted} read, {Rejected.Values.Sum()} rejected with the expected error " +
        $"({Rejected.Count} distinct reasons), slowest {Slowest.TotalMilliseconds:F0} ms, most allocated {MostAllocated / 1024:N0} KiB, findings {Findings.Count}";
}

/// <summary>
/// The seeded mutation loop: each mutated input goes to the reader; an exception of the expected
/// type is a rejection (counted by the first words of its reason), anything else, or an input that
/// takes more than <see cref="SlowMs"/> or allocates more than <see cref="MaxAllocation"/>, is a
/// finding with its seed and iteration so it can be replayed.
/// </summary>
internal static class FuzzRun
{
    public const int SlowMs = 2_000;
    public const long MaxAllocation = 256L << 20;

    /// <summary>MAMA_FUZZ_ITERATIONS, else <paramref name="fallback"/>.</summary>
    public static int Iterations(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("MAMA_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : fallback;

    public static FuzzReport Run(string reader, byte[][] seeds, int iterations, int seed, Action<byte[]> read, Func<Exception, bool> expected)
    {
        var report = new FuzzReport(reader);
        var mutator = new Mutator(seed);
        var total = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            byte[] input = mutator.Mutate(seeds[i % seeds.Length]);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            try
            {
                read(input);
                report.Accepted++;
            }
            catch (Exception e) when (expected(e))
            {
                string key = Reason(e.Message);
                report.Rejected[key] = report.Rejected.GetValueOrDefault(key) + 1;
            }
            catch (Exception e)
            {
                report.Findings.Add($"seed {seed} iteration {i}: {e.GetType().Name}: {e.Message} (input {input.Length} bytes: {Convert.ToBase64String(input[..Math.Min(input.Length, 512)])})");
            }
            sw.Stop();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (sw.Elapsed > report.Slowest) report.Slowest = sw.Elapsed;
            if (allocated > report.MostAllocated) report.MostAllocated = allocated;
            if (sw.ElapsedMilliseconds > SlowMs) report.Findings.Add($"seed {seed} iteration {i}: took {sw.ElapsedMilliseconds} ms");
            if (allocated > MaxAllocation) report.Findings.Add($"seed {seed} iteration {i}: allocated {allocated:N0} bytes");
            report.Iterations++;
        }
        report.Elapsed = total.Elapsed;
        return report;
    }

    /// <summary>The reason without file names and numbers, so rejections group by kind.</summary>
    private static string Reason(string message)
    {
        int colon = message.IndexOf(": ", StringComparison.Ordinal);
        string r = colon >= 0 ? message[(colon + 2)..] : message;
        r = new string(r.Select(c => char.IsDigit(c) ? '#' : c).ToArray());
        return r.Length > 60 ? r[..60] : r;
    }
}
