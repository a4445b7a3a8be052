using System.Diagnostics;
using System.Globalization;

namespace MaMA.Engine.Diagnostics;

/// <summary>
/// Where a step's time goes, per op: <c>MAMA_PROFILE=FILE</c> makes every kernel dispatch and every
/// node's backward synchronise the device before and after itself and add its wall time to a row;
/// the rows are written to FILE as CSV when the process exits (and by <see cref="Write"/>). Rows:
/// <list type="bullet">
///   <item><c>op FILE:MEMBER</c>: one dispatch site (the op's source file and method: the forward
///         of Gelu is <c>Activations.cs:Gelu</c>, a node's backward kernels <c>...:Backward</c>);</item>
///   <item><c>backward NAME</c>: a node's whole backward, its dispatches included (so these rows
///         overlap the op rows; compare rows within one kind);</item>
///   <item><c>allocator collect</c>: garbage collections the caching allocator ran before growing
///         (host time inside whatever op asked for memory).</item>
/// </list>
/// The synchronisations serialise host and device, so a profiled step is slower than an unprofiled
/// one; the shares, not the sum, are the point. Off (no cost beyond one branch) when unset.
/// </summary>
public static class OpProfile
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, Row> Rows = new(StringComparer.Ordinal);
    private static readonly string? Path = Environment.GetEnvironmentVariable("MAMA_PROFILE") is { Length: > 0 } p ? p : null;

    static OpProfile()
    {
        if (Path is not null) AppDomain.CurrentDomain.ProcessExit += (_, _) => Write(Path);
    }

    private static volatile bool s_enabled = Path is not null;

    /// <summary>True when MAMA_PROFILE is set (or a test turned it on).</summary>
    public static bool Enabled => s_enabled;

    /// <summary>Profiles until disposed, without a file (tests read <see cref="Snapshot"/>).</summary>
    internal static IDisposable EnableForTest()
    {
        Clear();
        s_enabled = true;
        return new Off();
    }

    /// <summary>Adds one timed call to <paramref name="key"/>.</summary>
    public static void Add(string key, TimeSpan elapsed)
    {
        lock (Gate)
        {
            if (!Rows.TryGetValue(key, out Row? row)) Rows[key] = row = new Row();
            row.Calls++;
            row.Milliseconds += elapsed.TotalMilliseconds;
            if (elapsed.TotalMilliseconds > row.MaxMilliseconds) row.MaxMilliseconds = elapsed.TotalMilliseconds;
        }
    }

    /// <summary>Times <paramref name="run"/> between two synchronisations of <paramref name="device"/> under <paramref name="key"/>.</summary>
    public static void Time(string key, Devices.Device device, Action run)
    {
        device.Synchronize();
        long start = Stopwatch.GetTimestamp();
        run();
        device.Synchronize();
        Add(key, Stopwatch.GetElapsedTime(start));
    }

    /// <summary>The rows so far, largest total first: key, calls, total, mean and largest milliseconds.</summary>
    public static IReadOnlyList<(string Key, long Calls, double TotalMs, double MeanMs, double MaxMs)> Snapshot()
    {
        lock (Gate)
            return Rows.OrderByDescending(r => r.Value.Milliseconds)
                .Select(r => (r.Key, r.Value.Calls, r.Value.Milliseconds, r.Value.Milliseconds / r.Value.Calls, r.Value.MaxMilliseconds)).ToList();
    }

    /// <summary>Writes the rows as CSV (kind, site, calls, total_ms, mean_ms, max_ms), replacing <paramref name="path"/> atomically.</summary>
    public static void Write(string path)
    {
        var lines = new List<string> { "kind,site,calls,total_ms,mean_ms,max_ms" };
        foreach ((string key, long calls, double total, double mean, double max) in Snapshot())
        {
            int space = key.IndexOf(' ', StringComparison.Ordinal);
            string kind = space < 0 ? key : key[..space], site = space < 0 ? "" : key[(space + 1)..];
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{kind},{site},{calls},{total:F3},{mean:F4},{max:F3}"));
        }
        string tmp = path + ".tmp";
        File.WriteAllLines(tmp, lines);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Forgets every row (tests).</summary>
    internal static void Clear()
    {
        lock (Gate) Rows.Clear();
    }

    private sealed class Off : IDisposable
    {
        public void Dispose() => s_enabled = Path is not null;
    }

    private sealed class Row
    {
        public long Calls;
        public double Milliseconds;
        public double MaxMilliseconds;
    }
}
