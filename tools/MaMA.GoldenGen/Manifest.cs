using System.Text.Json;

namespace MaMA.GoldenGen;

/// <summary>One input's shape and safetensors dtype name (F32, I64).</summary>
internal sealed record ManifestInput(int[] Shape, string DType);

/// <summary>One case's manifest entry (see golden/README.md).</summary>
internal sealed record ManifestCase(
    string File,
    SortedDictionary<string, ManifestInput> Inputs,
    int[] OutputShape,
    string DType,
    double Tolerance,
    double GradTolerance,
    string Sha256);

/// <summary>golden/ops/manifest.json: written with sorted keys, two-space indents and LF line ends.</summary>
internal sealed class Manifest
{
    public const int Format = 1;

    public const string Generator = "dotnet run --project tools/MaMA.GoldenGen -- ops";

    public const string FileName = "manifest.json";

    public required string Torch { get; init; }

    public required int Seed { get; init; }

    public SortedDictionary<string, ManifestCase> Cases { get; } = new(StringComparer.Ordinal);

    public byte[] ToJsonBytes()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            // Keys in ordinal order at every level.
            w.WriteStartObject();
            w.WriteStartObject("cases");
            foreach ((string name, ManifestCase c) in Cases)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", c.DType);
                w.WriteString("file", c.File);
                w.WriteNumber("grad_tolerance", c.GradTolerance);
                w.WriteStartObject("inputs");
                foreach ((string input, ManifestInput spec) in c.Inputs)
                {
                    w.WriteStartObject(input);
                    w.WriteString("dtype", spec.DType);
                    WriteShape(w, "shape", spec.Shape);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                WriteShape(w, "output_shape", c.OutputShape);
                w.WriteString("sha256", c.Sha256);
                w.WriteNumber("tolerance", c.Tolerance);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteNumber("format", Format);
            w.WriteString("generator", Generator);
            w.WriteNumber("seed", Seed);
            w.WriteString("torch", Torch);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static void WriteShape(Utf8JsonWriter w, string name, int[] shape)
    {
        // On one line ([2, 3, 5]) rather than one dimension per line.
        w.WritePropertyName(name);
        w.WriteRawValue("[" + string.Join(", ", shape.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]");
    }

    /// <summary>Writes to a temporary file in the same folder and renames it into place.</summary>
    public void Write(string path)
    {
        string tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                fs.Write(ToJsonBytes());
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <summary>Reads an existing manifest, or null when there is none.</summary>
    public static Manifest? TryRead(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = doc.RootElement;
            int format = root.GetProperty("format").GetInt32();
            if (format != Format) throw new GoldenGenException($"{path} has format {format}; this tool writes format {Format} (regenerate without --only)");
            var m = new Manifest { Torch = root.GetProperty("torch").GetString()!, Seed = root.GetProperty("seed").GetInt32() };
            foreach (JsonProperty p in root.GetProperty("cases").EnumerateObject())
            {
                JsonElement c = p.Value;
                var inputs = new SortedDictionary<string, ManifestInput>(StringComparer.Ordinal);
                foreach (JsonProperty i in c.GetProperty("inputs").EnumerateObject())
                    inputs[i.Name] = new ManifestInput(Shape(i.Value.GetProperty("shape")), i.Value.GetProperty("dtype").GetString()!);
                m.Cases[p.Name] = new ManifestCase(
                    c.GetProperty("file").GetString()!, inputs, Shape(c.GetProperty("output_shape")), c.GetProperty("dtype").GetString()!,
                    c.GetProperty("tolerance").GetDouble(), c.GetProperty("grad_tolerance").GetDouble(), c.GetProperty("sha256").GetString()!);
            }
            return m;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new GoldenGenException($"{path} is not a readable manifest ({e.Message}); regenerate without --only");
        }
    }

    private static int[] Shape(JsonElement e) => e.EnumerateArray().Select(d => d.GetInt32()).ToArray();

    public static string Describe(int[] shape) => "[" + string.Join(",", shape) + "]";
}
