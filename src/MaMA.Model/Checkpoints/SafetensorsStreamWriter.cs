using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;

namespace MaMA.Model.Checkpoints;

/// <summary>
/// Writes a safetensors file one tensor at a time from <see cref="TensorSource"/>s. The header
/// needs every dtype and shape up front, which the sources know without reading data, so peak
/// memory is one tensor (BioMedLM's largest, wte, is 296 MB in fp32) instead of the whole model as
/// with <see cref="Engine.Serialization.Safetensors.Write"/>. Returns the SHA-256 of the bytes
/// written, computed on the way out so the file is not read twice.
/// </summary>
public static class SafetensorsStreamWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (sorted by name, as our other writer) to <paramref name="path"/>.
    /// Floating tensors are cast to <paramref name="floatDType"/> when it is given; integer tensors keep
    /// their dtype. <paramref name="progress"/> sees (tensors done, total, bytes written, total bytes).
    /// </summary>
    public static string Write(
        string path,
        IReadOnlyDictionary<string, TensorSource> tensors,
        DType? floatDType = null,
        IReadOnlyDictionary<string, string>? metadata = null,
        Action<int, int, long, long>? progress = null)
    {
        var ordered = tensors.OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach ((string k, string v) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal)) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var dtypes = new DType[ordered.Count];
        long offset = 0;
        for (int i = 0; i < ordered.Count; i++)
        {
            (string name, TensorSource src) = ordered[i];
            dtypes[i] = floatDType is { } f && src.DType.IsFloating() ? f : src.DType;
            long bytes = Shape.Numel(src.Shape) * dtypes[i].Size();
            header[name] = new JsonObject
            {
                ["dtype"] = dtypes[i].SafetensorsName(),
                ["shape"] = new JsonArray(src.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        long totalBytes = offset;
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - json.Length % 8) % 8; // data stays 8-byte aligned; the spec allows trailing spaces

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        void Put(ReadOnlySpan<byte> bytes)
        {
            fs.Write(bytes);
            hash.AppendData(bytes);
        }
        Span<byte> len = stackalloc byte[8];
        BitConverter.TryWriteBytes(len, (ulong)(json.Length + pad));
        Put(len);
        Put(json);
        Put(Enumerable.Repeat((byte)' ', pad).ToArray());
        long written = 0;
        for (int i = 0; i < ordered.Count; i++)
        {
            (string name, TensorSource src) = ordered[i];
            byte[] payload = ReadAs(name, src, dtypes[i]);
            Put(payload);
            written += payload.Length;
            progress?.Invoke(i + 1, ordered.Count, written, totalBytes);
        }
        fs.Flush(flushToDisk: true);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static byte[] ReadAs(string name, TensorSource src, DType dtype)
    {
        using var _ = GradMode.NoGrad();
        return src.Use(t =>
        {
            if (!Shape.SameShape(t.Shape, src.Shape))
                throw new InvalidDataException($"{src.Origin}: tensor '{name}' has shape {Shape.Format(t.Shape)}, its header said {Shape.Format(src.Shape)}.");
            if (t.DType == dtype) return t.ToBytes();
            using Tensor cast = t.To(dtype);
            return cast.ToBytes();
        });
    }
}
