using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// TorchSharp's own <c>Module.save</c> format (.dat), read directly without libtorch: a LEB128
/// entry count, then per entry a .NET BinaryWriter string (the state-dict key), the ScalarType
/// code, the rank and each dimension (LEB128), and the raw little-endian elements. One scan
/// records where each tensor's bytes start; tensors are read on demand.
/// </summary>
public static class TorchSharpDatFile
{
    public static IReadOnlyDictionary<string, TensorSource> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' does not exist.", path);
        var result = new Dictionary<string, TensorSource>(StringComparer.Ordinal);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var reader = new BinaryReader(fs);
        try
        {
            long count = Leb128(reader);
            if (count < 0 || count > 1_000_000) throw new InvalidDataException($"entry count {count} is impossible");
            for (long i = 0; i < count; i++)
            {
                string key = reader.ReadString();
                string storage = TorchScalarTypes.StorageNameOfCode(checked((int)Leb128(reader)), path);
                long rank = Leb128(reader);
                if (rank is < 0 or > 16) throw new InvalidDataException($"tensor '{key}' has rank {rank}");
                var dims = new long[rank];
                for (int d = 0; d < rank; d++) dims[d] = Leb128(reader);
                int[] shape = TorchScalarTypes.Shape(dims, key, path);
                (int elem, DType dtype) = TorchScalarTypes.FromStorageName(storage, path);
                long bytes = Shape.Numel(shape) * elem;
                long start = fs.Position;
                if (start + bytes > fs.Length)
                    throw new InvalidDataException($"tensor '{key}' needs {bytes} bytes at offset {start}, the file has {fs.Length - start} left (truncated?)");
                fs.Position = start + bytes;
                result[key] = new TensorSource(dtype, shape, () => ReadAt(path, key, start, bytes, shape, storage), path);
            }
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or OverflowException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a readable TorchSharp .dat file ({e.Message}).", e);
        }
        if (fs.Position != fs.Length)
            throw new InvalidDataException($"{path}: {fs.Length - fs.Position} bytes follow the last tensor; not a TorchSharp Module.save file.");
        return result;
    }

    private static Tensor ReadAt(string path, string key, long start, long bytes, int[] shape, string storage)
    {
        if (bytes > int.MaxValue) throw new InvalidDataException($"{path}: tensor '{key}' is over 2 GB.");
        var buffer = new byte[bytes];
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        fs.Position = start;
        fs.ReadExactly(buffer);
        return TorchScalarTypes.ToEngine(buffer, shape, storage, path);
    }

    /// <summary>TorchSharp's Encode: unsigned LEB128 (7 bits per byte, high bit = more).</summary>
    private static long Leb128(BinaryReader r)
    {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = r.ReadByte();
            value |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidDataException("LEB128 number longer than 64 bits");
    }
}
