using System.IO.Compression;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// A file written by <c>torch.save</c> (PyTorch >= 1.6 zip format: <c>{name}/data.pkl</c> plus one
/// entry <c>{name}/data/{key}</c> per storage): .pth, .pt, .bin, Lightning .ckpt. The pickle is run by
/// <see cref="PickleMachine"/>; tensors come back as <see cref="TorchTensorRef"/>s and are read from
/// the archive only when asked, one at a time.
/// </summary>
public sealed class TorchZipCheckpoint : IDisposable
{
    private readonly FileStream _stream;
    private readonly ZipArchive _zip;
    private readonly string _prefix;

    private TorchZipCheckpoint(string path, FileStream stream, ZipArchive zip, string prefix, object? root)
    {
        Path = path;
        _stream = stream;
        _zip = zip;
        _prefix = prefix;
        Root = root;
    }

    public string Path { get; }

    /// <summary>The unpickled object (a dict for state dicts and Lightning checkpoints).</summary>
    public object? Root { get; }

    /// <summary>Largest data.pkl read (256 MiB).</summary>
    public const long MaxPickleBytes = 256L << 20;

    /// <summary>True when the file starts like a zip archive (how torch.save's format is recognised).</summary>
    public static bool LooksLikeZip(string path)
    {
        using var fs = File.OpenRead(path);
        Span<byte> b = stackalloc byte[4];
        return fs.Read(b) == 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;
    }

    public static TorchZipCheckpoint Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' does not exist.", path);
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            Span<byte> head = stackalloc byte[4];
            int n = fs.Read(head);
            if (n == 4 && head[0] == 0x80 && head[1] == 0x02 && head[2] == 0x8a)
                throw new InvalidDataException($"{path}: written by the legacy torch.save format (PyTorch < 1.6), which is not supported; "
                                               + "load and re-save it with a current PyTorch (torch.save(torch.load(f), f2)).");
            if (n < 4 || head[0] != 'P' || head[1] != 'K')
                throw new InvalidDataException($"{path}: not a torch.save zip archive (it does not start with 'PK').");
            fs.Position = 0;
            ZipArchive zip;
            try
            {
                zip = new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: true);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{path}: the zip archive is damaged or truncated ({e.Message}).", e);
            }
            ZipArchiveEntry pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') <= 1)
                                  ?? throw new InvalidDataException($"{path}: a zip archive without data.pkl is not a torch.save file.");
            string prefix = pkl.FullName[..^"data.pkl".Length];
            // The pickle only describes the tensors (a few MB even for billions of weights); a deflated
            // entry claiming more is a decompression bomb, refused before it is inflated.
            if (pkl.Length > MaxPickleBytes)
                throw new InvalidDataException($"{path}: {pkl.FullName} inflates to {pkl.Length:N0} bytes, over the {MaxPickleBytes:N0}-byte limit for a checkpoint's pickle (a damaged or hostile file).");
            byte[] program;
            using (Stream s = pkl.Open())
            using (var ms = new MemoryStream())
            {
                // Bounded even if the entry's declared size lies.
                var chunk = new byte[81920];
                int got;
                while ((got = s.Read(chunk)) > 0)
                {
                    if (ms.Length + got > MaxPickleBytes)
                        throw new InvalidDataException($"{path}: {pkl.FullName} inflates past the {MaxPickleBytes:N0}-byte limit for a checkpoint's pickle (a damaged or hostile file).");
                    ms.Write(chunk, 0, got);
                }
                program = ms.ToArray();
            }
            var machine = new PickleMachine(program, path + ":" + pkl.FullName, Persistent, Rebuild);
            object? root = machine.Load();
            return new TorchZipCheckpoint(path, fs, zip, prefix, root);
        }
        catch
        {
            fs.Dispose();
            throw;
        }

        object? Persistent(object? pid)
        {
            // ('storage', torch.FloatStorage, key, location, numel): see torch/serialization.py's persistent_id.
            if (pid is not object?[] { Length: >= 5 } t || t[0] is not "storage")
                throw new InvalidDataException($"{path}: unexpected persistent id {pid}; not a tensor storage.");
            string storage = t[1] is PyGlobal g ? g.Name : t[1]?.ToString() ?? "";
            return new TorchStorageRef((string)t[2]!, storage, Convert.ToInt64(t[4]));
        }

        object? Rebuild(PyGlobal g, object?[] args)
        {
            switch (g)
            {
                case { Module: "torch._utils", Name: "_rebuild_tensor_v2" or "_rebuild_tensor" } when args.Length >= 4 && args[0] is TorchStorageRef st:
                    return new TorchTensorRef(st, Convert.ToInt64(args[1]), Longs(args[2]), Longs(args[3]));
                case { Module: "torch._utils", Name: "_rebuild_parameter" or "_rebuild_parameter_with_state" } when args.Length >= 1:
                    return args[0];
                default:
                    return null;
            }
        }

        static long[] Longs(object? o) => o is object?[] a ? a.Select(Convert.ToInt64).ToArray() : throw new InvalidDataException("tensor size/stride is not a tuple");
    }

    /// <summary>A lazy source for <paramref name="t"/>, named <paramref name="key"/> in errors.</summary>
    public TensorSource Source(string key, TorchTensorRef t)
    {
        (_, DType dtype) = TorchScalarTypes.FromStorageName(t.Storage.ScalarType, Path);
        return new TensorSource(dtype, TorchScalarTypes.Shape(t.Shape, key, Path), () => Read(key, t), Path);
    }

    /// <summary>Reads one tensor (a strided view of its storage) into a new contiguous engine tensor.</summary>
    public Tensor Read(string key, TorchTensorRef t)
    {
        (int elem, _) = TorchScalarTypes.FromStorageName(t.Storage.ScalarType, Path);
        int[] shape = TorchScalarTypes.Shape(t.Shape, key, Path);
        long numel = Shape.Numel(shape);
        // A view with negative strides or offset, or strides of another rank, would index outside
        // the buffer below; torch.save never writes one.
        if (t.Stride.Length != t.Shape.Length)
            throw new InvalidDataException($"{Path}: tensor '{key}' has {t.Shape.Length} dimensions but {t.Stride.Length} strides.");
        if (t.Offset < 0 || t.Stride.Any(st => st < 0))
            throw new InvalidDataException($"{Path}: tensor '{key}' has a negative storage offset or stride (offset {t.Offset}, strides [{string.Join(", ", t.Stride)}]).");
        // Elements of the storage the view touches: offset + sum((size - 1) * stride) + 1.
        long extent;
        try
        {
            extent = numel == 0 ? 0 : checked(t.Offset + t.Shape.Zip(t.Stride, (s, st) => checked((s - 1) * st)).Sum() + 1);
        }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{Path}: tensor '{key}' has strides [{string.Join(", ", t.Stride)}] that overflow its storage index.");
        }
        if (extent > t.Storage.Numel)
            throw new InvalidDataException($"{Path}: tensor '{key}' reaches element {extent} of a {t.Storage.Numel}-element storage.");
        ZipArchiveEntry entry = _zip.GetEntry(_prefix + "data/" + t.Storage.Key)
                                ?? throw new InvalidDataException($"{Path}: tensor '{key}' needs storage data/{t.Storage.Key}, which the archive lacks.");
        long need = extent * elem;
        if (entry.Length < need)
            throw new InvalidDataException($"{Path}: storage data/{t.Storage.Key} of tensor '{key}' holds {entry.Length} bytes, {need} needed; the file is truncated.");
        if (need > int.MaxValue)
            throw new InvalidDataException($"{Path}: tensor '{key}' spans {need} bytes; tensors over 2 GB cannot be imported.");
        var buffer = new byte[need];
        try
        {
            using Stream s = entry.Open();
            s.ReadExactly(buffer);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or IOException)
        {
            throw new InvalidDataException($"{Path}: reading tensor '{key}' failed ({e.Message}); the file is truncated or damaged.", e);
        }
        bool contiguous = IsContiguous(t.Shape, t.Stride);
        ReadOnlySpan<byte> bytes = contiguous
            ? buffer.AsSpan((int)(t.Offset * elem), (int)(numel * elem))
            : Gather(buffer, elem, t.Offset, t.Shape, t.Stride, numel);
        return TorchScalarTypes.ToEngine(bytes, shape, t.Storage.ScalarType, Path);
    }

    private static bool IsContiguous(long[] shape, long[] stride)
    {
        long expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && stride[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    private static byte[] Gather(byte[] storage, int elem, long offset, long[] shape, long[] stride, long numel)
    {
        var result = new byte[numel * elem];
        var index = new long[shape.Length];
        for (long i = 0; i < numel; i++)
        {
            long src = offset;
            for (int d = 0; d < shape.Length; d++) src += index[d] * stride[d];
            Buffer.BlockCopy(storage, (int)(src * elem), result, (int)(i * elem), elem);
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
        return result;
    }

    public void Dispose()
    {
        _zip.Dispose();
        _stream.Dispose();
    }
}
