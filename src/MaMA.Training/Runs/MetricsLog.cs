using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MaMA.Training.Runs;

/// <summary>
/// <c>metrics.jsonl</c>: one JSON object per line, <c>{"step": n, "kind": "train"|"eval", name: value, ...}</c>,
/// appended and flushed line by line so a killed run keeps every line written before the kill.
/// Non-finite values are written as null. Opening for a resumed run drops the lines after the
/// checkpoint's step (they belong to steps that will run again), and a torn last line; the trimmed
/// log replaces the old one by a rename, so a kill during the resume loses no line.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly FileStream _stream;

    /// <param name="path">The file.</param>
    /// <param name="resumeStep">Null starts an empty log; a step keeps the lines with step &lt;= it.</param>
    public MetricsLog(string path, long? resumeStep)
    {
        Path = path;
        string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        if (resumeStep is { } last && File.Exists(path))
        {
            // The kept lines go to a side file that then replaces the log in one rename: a run killed
            // while resuming leaves either the old log or the trimmed one, never an emptied file.
            string tmp = path + ".tmp";
            using (var trimmed = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                foreach (string line in File.ReadAllLines(path).Where(l => StepOf(l) is { } s && s <= last))
                    trimmed.Write(Encoding.UTF8.GetBytes(line + "\n"));
                trimmed.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
            _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        }
        else
        {
            _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read);
        }
    }

    public string Path { get; }

    /// <summary>Appends one line and flushes it.</summary>
    public void Append(long step, string kind, IEnumerable<KeyValuePair<string, double>> values)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("step", step);
            w.WriteString("kind", kind);
            foreach ((string key, double value) in values)
            {
                if (double.IsFinite(value)) w.WriteNumber(key, value);
                else w.WriteNull(key);
            }
            w.WriteEndObject();
        }
        WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
        _stream.Flush();
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>Every line of a metrics file: step, kind and the numeric values (null values as NaN).</summary>
    public static IReadOnlyList<MetricsLine> Read(string path)
    {
        var lines = new List<MetricsLine>();
        if (!File.Exists(path)) return lines;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(fs);
        while (reader.ReadLine() is { } line)
        {
            if (Parse(line) is { } parsed) lines.Add(parsed);
        }
        return lines;
    }

    private void WriteLine(string line)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(line + "\n");
        _stream.Write(bytes);
    }

    private static long? StepOf(string line) => Parse(line)?.Step;

    private static MetricsLine? Parse(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("step", out JsonElement step) || !step.TryGetInt64(out long s)) return null;
            string kind = root.TryGetProperty("kind", out JsonElement k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : "train";
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (p.Name is "step" or "kind") continue;
                values[p.Name] = p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() : double.NaN;
            }
            return new MetricsLine(s, kind, values);
        }
        catch (JsonException)
        {
            return null; // a line torn by a kill
        }
    }
}

/// <summary>One line of metrics.jsonl.</summary>
public sealed record MetricsLine(long Step, string Kind, IReadOnlyDictionary<string, double> Values)
{
    public double this[string key] => Values.TryGetValue(key, out double v) ? v : double.NaN;

    public override string ToString() =>
        $"step {Step} {Kind}: " + string.Join(", ", Values.Select(kv => kv.Key + " " + kv.Value.ToString("G5", CultureInfo.InvariantCulture)));
}
