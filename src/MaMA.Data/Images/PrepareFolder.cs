using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace MaMA.Data.Images;

/// <summary>What <see cref="PrepareFolder.Run"/> converts and how.</summary>
public sealed record PrepareOptions
{
    /// <summary>Searched recursively for .dcm, .dicom, .png, .jpg and .jpeg files (any case; hidden files skipped).</summary>
    public required string InputDir { get; init; }

    /// <summary>Receives one PNG per input at the same relative path, extension .png.</summary>
    public required string OutputDir { get; init; }

    /// <summary>Side of the square output (the long side before padding).</summary>
    public int Size { get; init; } = Preprocessing.DefaultSize;

    /// <summary>Zero-pad the short side to a square (the SPEC); false keeps the aspect ratio.</summary>
    public bool Pad { get; init; } = true;

    /// <summary>Files converted in parallel.</summary>
    public int Workers { get; init; } = Math.Min(Environment.ProcessorCount, 8);

    public ImageReadOptions Read { get; init; } = ImageReadOptions.Default;

    /// <summary>How often a progress line is printed.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>The outcome of <see cref="PrepareFolder.Run"/>.</summary>
public sealed record PrepareSummary(int Inputs, int Written, int Skipped, int Failed, IReadOnlyList<PrepareFailure> Failures, TimeSpan Elapsed);

/// <summary>An input that could not be converted, and why.</summary>
public sealed record PrepareFailure(string Path, string Reason);

/// <summary>
/// <c>mama prepare</c>: converts every image under a folder with <see cref="Preprocessing.Prepare"/>
/// to an 8-bit grey PNG at the same relative path. Each output is written to a temporary file and
/// renamed (<see cref="AtomicFile"/>), so an output that exists is complete; a rerun skips those
/// (resume) after checking that the file ends with PNG's IEND chunk, and deletes stale temporary
/// files. Unreadable inputs are reported with the reason, counted and skipped; inputs whose outputs
/// would collide (a.dcm and a.png) are reported too, the first in ordinal order wins. Failures are
/// also listed in <c>OUT/prepare-failures.txt</c>. A failure to write the output stops the run.
/// </summary>
public static class PrepareFolder
{
    public const string FailuresFile = "prepare-failures.txt";

    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase) { ".dcm", ".dicom", ".png", ".jpg", ".jpeg" };

    /// <summary>The inputs under <paramref name="inputDir"/> (sorted, ordinal), leaving out anything under <paramref name="excludeDir"/>.</summary>
    public static List<string> FindInputs(string inputDir, string? excludeDir = null)
    {
        string exclude = excludeDir is null ? "" : Path.TrimEndingDirectorySeparator(Path.GetFullPath(excludeDir)) + Path.DirectorySeparatorChar;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true };
        return Directory.EnumerateFiles(Path.GetFullPath(inputDir), "*", options)
            .Where(f => Extensions.Contains(Path.GetExtension(f)))
            .Where(f => exclude.Length == 0 || !f.StartsWith(exclude, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Whether <paramref name="path"/> exists and ends with a PNG IEND chunk (what an interrupted write would lack).</summary>
    public static bool IsCompletePng(string path)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (f.Length < 8 + 25 + 12) return false;
            Span<byte> head = stackalloc byte[8];
            f.ReadExactly(head);
            if (ImageReader.Detect(head) != ImageFileKind.Png) return false;
            Span<byte> tail = stackalloc byte[12];
            f.Seek(-12, SeekOrigin.End);
            f.ReadExactly(tail);
            return tail.SequenceEqual(IendChunk);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// How output paths collide: by case only where file systems usually ignore it (Windows, macOS);
    /// on Linux X.png and x.png are two files.
    /// </summary>
    private static StringComparer OutputNames =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    /// <summary>Whether <paramref name="path"/> lies strictly inside <paramref name="folder"/> (both full paths).</summary>
    private static bool IsUnder(string path, string folder) =>
        path.StartsWith(Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static ReadOnlySpan<byte> IendChunk => [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82];

    public static PrepareSummary Run(PrepareOptions options, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        if (options.Size < 1) throw new ArgumentException($"size must be positive, got {options.Size}.");
        if (options.Workers < 1) throw new ArgumentException($"workers must be at least 1, got {options.Workers}.");
        string input = Path.GetFullPath(options.InputDir);
        string output = Path.GetFullPath(options.OutputDir);
        if (!Directory.Exists(input)) throw new DirectoryNotFoundException($"input folder {options.InputDir} does not exist.");
        if (string.Equals(Path.TrimEndingDirectorySeparator(input), Path.TrimEndingDirectorySeparator(output), StringComparison.Ordinal))
            throw new ArgumentException("the output folder must differ from the input folder (outputs would replace PNG inputs).");

        var watch = Stopwatch.StartNew();
        // Outputs inside the input folder (a rerun would otherwise take them for inputs) are left out;
        // an output folder that holds the input folder, or lies elsewhere, excludes nothing.
        List<string> inputs = FindInputs(input, IsUnder(output, input) ? output : null);
        Directory.CreateDirectory(output);
        foreach (string stale in Directory.EnumerateFiles(output, "*" + AtomicFile.TempSuffix, new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }))
            File.Delete(stale);

        var failures = new ConcurrentBag<PrepareFailure>();
        var jobs = new List<(string In, string Out)>();
        var taken = new Dictionary<string, string>(OutputNames);
        foreach (string file in inputs)
        {
            string target = Path.Combine(output, Path.ChangeExtension(Path.GetRelativePath(input, file), ".png"));
            if (taken.TryGetValue(target, out string? first))
                failures.Add(new PrepareFailure(file, $"its output {target} is already the output of {first}; rename one of them."));
            else
            {
                taken[target] = file;
                jobs.Add((file, target));
            }
        }
        log.WriteLine($"prepare: {inputs.Count} image file(s) under {input} -> {output} (size {options.Size}{(options.Pad ? ", padded" : "")}, {options.Workers} worker(s))");

        int collisions = failures.Count;
        int written = 0, skipped = 0, failed = collisions;
        object logLock = new();
        void Progress(bool final)
        {
            int w = Volatile.Read(ref written), s = Volatile.Read(ref skipped), f = Volatile.Read(ref failed);
            int done = w + s + f;
            double seconds = Math.Max(watch.Elapsed.TotalSeconds, 1e-3);
            double rate = (w + f - collisions) / seconds; // skips are nearly free: the rate counts converted and failed files
            string eta = final ? "done" : rate > 0 ? "ETA " + Duration(TimeSpan.FromSeconds((inputs.Count - done) / rate)) : "ETA --";
            string percent = inputs.Count == 0 ? "100" : (100.0 * done / inputs.Count).ToString("F1", CultureInfo.InvariantCulture);
            lock (logLock)
                log.WriteLine($"prepare: {done}/{inputs.Count} ({percent}%)  written {w}  skipped {s}  failed {f}  {rate.ToString("F1", CultureInfo.InvariantCulture)} img/s  {eta}");
        }

        foreach (PrepareFailure f in failures)
            lock (logLock) log.WriteLine($"  failed: {f.Path}: {f.Reason}");

        var timer = new Timer(_ => Progress(false), null, options.ProgressInterval, options.ProgressInterval);
        try
        {
            try
            {
                Parallel.ForEach(jobs, new ParallelOptions { MaxDegreeOfParallelism = options.Workers }, job =>
                {
                    if (IsCompletePng(job.Out))
                    {
                        Interlocked.Increment(ref skipped);
                        return;
                    }
                    GreyImage prepared;
                    try
                    {
                        prepared = Preprocessing.Prepare(ImageReader.Read(job.In, options.Read), options.Size, options.Pad);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        string reason = e switch
                        {
                            ImageReadException r => r.Reason,
                            IOException or UnauthorizedAccessException => e.Message,
                            _ => $"{e.GetType().Name}: {e.Message}",
                        };
                        failures.Add(new PrepareFailure(job.In, reason));
                        Interlocked.Increment(ref failed);
                        lock (logLock) log.WriteLine($"  failed: {job.In}: {reason}");
                        return;
                    }
                    ImageWriter.SavePng(prepared, job.Out);
                    Interlocked.Increment(ref written);
                });
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                Exception first = e.InnerExceptions[0];
                if (first is IOException or UnauthorizedAccessException)
                    throw new IOException($"prepare stopped: cannot write an output: {first.Message}", first);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
            }
        }
        finally
        {
            using var stopped = new ManualResetEvent(false);
            if (timer.Dispose(stopped)) stopped.WaitOne(); // no progress line after the summary
        }
        Progress(final: true);

        List<PrepareFailure> failureList = failures.OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
        string failuresPath = Path.Combine(output, FailuresFile);
        if (failureList.Count > 0)
            AtomicFile.WriteAllBytes(failuresPath, System.Text.Encoding.UTF8.GetBytes(string.Concat(failureList.Select(f => $"{f.Path}\t{f.Reason}\n"))));
        else if (File.Exists(failuresPath))
            File.Delete(failuresPath);

        var summary = new PrepareSummary(inputs.Count, written, skipped, failureList.Count, failureList, watch.Elapsed);
        log.WriteLine($"prepare: {summary.Inputs} input(s) in {Duration(summary.Elapsed)}: {summary.Written} written, {summary.Skipped} already prepared (skipped), {summary.Failed} failed" +
                      (summary.Failed > 0 ? $" (listed in {failuresPath})" : "") + $" -> {output}");
        return summary;
    }

    private static string Duration(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:D2}s" : $"{t.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)}s";
}
