using System.Text;

namespace MaMA.Data.Tables;

/// <summary>Writes RFC 4180 CSV (UTF-8 without a byte order mark, LF line ends), atomically.</summary>
public static class CsvWriter
{
    /// <summary>One field, quoted when it holds a comma, a quote, a line break or surrounding spaces.</summary>
    public static string Escape(string field)
    {
        bool quote = field.Length > 0 && (field[0] == ' ' || field[^1] == ' ');
        foreach (char c in field)
        {
            if (c is ',' or '"' or '\n' or '\r')
            {
                quote = true;
                break;
            }
        }
        return quote ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;
    }

    /// <summary>One record (without the line end).</summary>
    public static string FormatRow(IEnumerable<string> fields) => string.Join(",", fields.Select(Escape));

    /// <summary>Writes a header and rows to <paramref name="path"/> through a temporary file and a rename.</summary>
    public static void WriteFile(string path, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        AtomicFile.Write(path, writer =>
        {
            writer.Write(FormatRow(header));
            writer.Write('\n');
            foreach (IReadOnlyList<string> row in rows)
            {
                if (row.Count != header.Count)
                    throw new ArgumentException($"{path}: a row has {row.Count} fields but the header has {header.Count}.");
                writer.Write(FormatRow(row));
                writer.Write('\n');
            }
        });
    }
}

/// <summary>Writes a file completely or not at all: a temporary file next to it, then a rename.</summary>
public static class AtomicFile
{
    /// <summary>Writes UTF-8 text (no byte order mark) through <paramref name="write"/>.</summary>
    public static void Write(string path, Action<TextWriter> write) =>
        WriteStream(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
            write(writer);
        });

    /// <summary>Writes bytes through <paramref name="write"/>.</summary>
    public static void WriteStream(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
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
