using System.Diagnostics;
using System.Globalization;

namespace MaMA.Engine.Memory;

/// <summary>
/// Optional CSV trace of the caching allocators' rare events (a collection before growing, and
/// whether it found a block): <c>MAMA_MEMORY_LOG=FILE</c>. One line per event with the allocator's
/// bytes and the count of storages returned by Dispose and by the finalizer, for the soak
/// (tools/soak.sh) and for finding what holds memory.
/// </summary>
internal static class MemoryLog
{
    private static readonly object Gate = new();
    private static readonly Stopwatch Clock = Stopwatch.StartNew();
    private static readonly StreamWriter? Writer = Open(Environment.GetEnvironmentVariable("MAMA_MEMORY_LOG"));

    public static void Write<TBlock>(string device, string what, long requested, long allocatedBefore, CachingAllocator<TBlock> a) where TBlock : class
    {
        if (Writer is null) return;
        lock (Gate)
        {
            Writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Clock.Elapsed.TotalSeconds:F3},{device},{what},{requested},{allocatedBefore},{a.AllocatedBytes},{a.CachedBytes},{a.ReservedBytes},{a.Collections},{Storage.ReleasedByDispose},{Storage.ReleasedByFinalizer}"));
        }
    }

    private static StreamWriter? Open(string? path)
    {
        if (string.IsNullOrWhiteSpace(path)) return null;
        var w = new StreamWriter(path, append: false) { AutoFlush = true };
        w.WriteLine("seconds,device,event,requested,allocated_before_gc,allocated,cached,reserved,collections,released_by_dispose,released_by_finalizer");
        return w;
    }
}
