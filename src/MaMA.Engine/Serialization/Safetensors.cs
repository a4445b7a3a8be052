using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Serialization;

/// <summary>
/// The safetensors format (Hugging Face): u64 little-endian header length, a JSON header mapping
/// each tensor name to {dtype, shape, data_offsets} plus optional "__metadata__" strings, then the
/// raw little-endian data. Files are read memory-mapped and checked (offsets in bounds, sizes
/// matching shape x dtype, no overlaps); writes go to a temporary file renamed into place, so a
/// killed writer never leaves a half-written file under the final name.
/// </summary>
public static class Safetensors
{
    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach ((string k, string v) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal)) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        var ordered = tensors.OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        var payloads = new List<byte[]>(ordered.Count);
        foreach ((string name, Tensor t) in ordered)
        {
            byte[] bytes = t.ToBytes();
            payloads.Add(bytes);
            header[name] = new JsonObject
            {
                ["dtype"] = t.DType.SafetensorsName(),
                ["shape"] = new JsonArray(t.ShapeArray.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            offset += bytes.Length;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - json.Length % 8) % 8; // keep data 8-byte aligned, padding with spaces as the spec allows
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        string tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                Span<byte> len = stackalloc byte[8];
                BitConverter.TryWriteBytes(len, (ulong)(json.Length + pad));
                fs.Write(len);
                fs.Write(json);
                for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
                foreach (byte[] p in payloads) fs.Write(p);
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

    /// <summary>Opens and validates a file; tensors are loaded on demand.</summary>
    public static SafetensorsFile Open(string path) => new(path);
}

/// <summary>One entry of a safetensors header.</summary>
/// <summary>
/// One tensor of a safetensors file. <see cref="DType"/> is what it loads as; <see cref="Stored"/>
/// is the file's dtype name, which differs for the dtypes the engine has no tensors of: 8- and
/// 16-bit integers load widened to int32, F64 narrowed to fp32 (as the torch.save reader does).
/// </summary>
public sealed record SafetensorsEntry(string Name, DType DType, int[] Shape, long Begin, long End)
{
    public string Stored { get; init; } = DType.SafetensorsName();
}

/// <summary>A validated, memory-mapped safetensors file.</summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long _dataStart;

    internal SafetensorsFile(string path)
    {
        Path = path;
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        long length = new FileInfo(path).Length;
        if (length < 8) throw Bad("file is shorter than the 8-byte header length");
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            Span<byte> len = stackalloc byte[8];
            fs.ReadExactly(len);
            ulong headerLength = BitConverter.ToUInt64(len);
            if (headerLength == 0 || headerLength > Safetensors.MaxHeaderBytes || (long)headerLength > length - 8)
                throw Bad($"header length {headerLength} is impossible for a {length}-byte file");
            var json = new byte[headerLength];
            fs.ReadExactly(json);
            _dataStart = 8 + (long)headerLength;
            (Entries, Metadata) = ParseHeader(json, length - _dataStart);
        }
        if (length > 0)
        {
            _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        }
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IEnumerable<string> Names => Entries.Keys;

    public bool Contains(string name) => Entries.ContainsKey(name);

    /// <summary>Copies one tensor out of the mapping onto <paramref name="device"/>.</summary>
    public unsafe Tensor Load(string name, Device? device = null)
    {
        if (!Entries.TryGetValue(name, out SafetensorsEntry? e))
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}'. It has: {string.Join(", ", Entries.Keys.Take(20))}{(Entries.Count > 20 ? ", ..." : "")}.");
        long bytes = e.End - e.Begin;
        byte* basePtr = null;
        _view!.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        try
        {
            var span = new ReadOnlySpan<byte>(basePtr + _view.PointerOffset + _dataStart + e.Begin, checked((int)bytes));
            return e.Stored == e.DType.SafetensorsName() ? Tensor.FromBytes(span, e.Shape, e.DType, device) : Converted(span, e, device);
        }
        finally
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    /// <summary>The dtype a stored dtype name loads as, and the stored element size.</summary>
    private static (DType DType, int Size) StoredAs(string stored) => stored switch
    {
        "U8" or "I8" => (DType.Int32, 1),
        "U16" or "I16" => (DType.Int32, 2),
        "F64" => (DType.Float32, 8),
        _ => (DTypeExtensions.FromSafetensorsName(stored), DTypeExtensions.FromSafetensorsName(stored).Size()),
    };

    /// <summary>Widens or narrows a stored dtype's bytes to the dtype it loads as (see <see cref="SafetensorsEntry"/>).</summary>
    private static Tensor Converted(ReadOnlySpan<byte> bytes, SafetensorsEntry e, Device? device)
    {
        int n = checked((int)Tensors.Shape.Numel(e.Shape));
        if (e.DType == DType.Float32)
        {
            var f = new float[n];
            for (int i = 0; i < n; i++) f[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(i * 8, 8));
            return Tensor.FromArray(f, e.Shape, device);
        }
        var v = new int[n];
        for (int i = 0; i < n; i++)
            v[i] = e.Stored switch
            {
                "U8" => bytes[i],
                "I8" => (sbyte)bytes[i],
                "U16" => BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(i * 2, 2)),
                _ => BinaryPrimitives.ReadInt16LittleEndian(bytes.Slice(i * 2, 2)),
            };
        return Tensor.FromArray(v, e.Shape, device);
    }

    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }

    private (IReadOnlyDictionary<string, SafetensorsEntry>, IReadOnlyDictionary<string, string>) ParseHeader(byte[] json, long dataLength)
    {
        // System.Text.Json transcodes names and strings lazily and throws InvalidOperationException
        // on invalid UTF-8 wherever that happens (a nested metadata key, much later); the format
        // says UTF-8, so check it once here.
        if (!System.Text.Unicode.Utf8.IsValid(json)) throw Bad("header is not valid JSON: its bytes are not UTF-8");
        JsonObject root;
        List<KeyValuePair<string, JsonNode?>> items;
        try
        {
            root = JsonNode.Parse(json)?.AsObject() ?? throw Bad("header is not a JSON object");
            // JsonObject builds its dictionary lazily: a duplicate key throws ArgumentException on
            // first enumeration, so enumerate here where it is reported as bad JSON.
            items = root.ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw Bad("header is not valid JSON: " + e.Message);
        }
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, JsonNode? node) in items)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject meta)
                    foreach ((string k, JsonNode? v) in meta) metadata[k] = v?.ToString() ?? "";
                continue;
            }
            try
            {
                JsonObject o = node!.AsObject();
                string stored = o["dtype"]!.GetValue<string>();
                (DType dtype, int storedSize) = StoredAs(stored);
                int[] shape = o["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
                long[] off = o["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                if (off.Length != 2 || off[0] < 0 || off[1] < off[0] || off[1] > dataLength)
                    throw Bad($"tensor '{name}' has data_offsets [{string.Join(", ", off)}] outside the {dataLength}-byte data section");
                if (shape.Any(d => d < 0)) throw Bad($"tensor '{name}' has a negative dimension");
                long expected = CheckedBytes(name, shape, storedSize);
                if (off[1] - off[0] != expected)
                    throw Bad($"tensor '{name}' holds {off[1] - off[0]} bytes but {stored} {Tensors.Shape.Format(shape)} needs {expected}");
                entries[name] = new SafetensorsEntry(name, dtype, shape, off[0], off[1]) { Stored = stored };
            }
            catch (Exception e) when (e is not InvalidDataException)
            {
                throw Bad($"tensor '{name}' has a malformed header entry ({e.Message})");
            }
        }
        var sorted = entries.Values.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw Bad($"tensors '{sorted[i - 1].Name}' and '{sorted[i].Name}' overlap");
        return (entries, metadata);
    }

    /// <summary>
    /// Bytes of <paramref name="shape"/> x dtype with overflow detected: an unchecked product can wrap
    /// (65536^4 elements is 2^64, i.e. 0) and make a header that claims an enormous tensor agree with
    /// an empty data range.
    /// </summary>
    private long CheckedBytes(string name, int[] shape, int elementSize)
    {
        long bytes = elementSize;
        foreach (int d in shape)
        {
            if (d != 0 && bytes > long.MaxValue / d) throw Bad($"tensor '{name}' has shape {Tensors.Shape.Format(shape)}, whose size in bytes overflows");
            bytes *= d;
        }
        return bytes;
    }

    private InvalidDataException Bad(string why) => new($"{Path}: not a valid safetensors file: {why}.");
}
