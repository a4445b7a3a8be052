namespace MaMA.Data.Images;

/// <summary>
/// Writes a file so that it either exists complete or not at all: the bytes go to a temporary file
/// in the same folder (<c>NAME.XXXXXXXX.mama-tmp</c>), which is then renamed over the target. A
/// process killed half-way leaves at most a <c>.mama-tmp</c> file, never a half-written target.
/// </summary>
public static class AtomicFile
{
    /// <summary>The suffix of temporary files (<c>mama prepare</c> deletes stale ones it finds in its output folder).</summary>
    public const string TempSuffix = ".mama-tmp";

    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, s => s.Write(bytes));
    }

    /// <summary>Calls <paramref name="write"/> with a stream to the temporary file, flushes it to disk, then renames it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string temp = $"{full}.{Random.Shared.Next():x8}{TempSuffix}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
