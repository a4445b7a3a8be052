using System.IO.Compression;
using System.Text;

namespace MaMA.Reliability.Tests.Corpus;

/// <summary>
/// Bad <c>torch.save</c> zip archives (hand-written pickles, so each case bends exactly one thing)
/// and bad TorchSharp <c>.dat</c> files. Each must be an <see cref="InvalidDataException"/> naming the file.
/// </summary>
public static class TorchCorpus
{
    public sealed record Case(string Name, string Extension, byte[] Bytes, string Reason)
    {
        public override string ToString() => Name;
    }

    /// <summary>A pickle (protocol 2) of {"w": _rebuild_tensor_v2(storage, offset, size, stride)}; numbers as BININT.</summary>
    public static byte[] StateDictPickle(string storageKey = "0", string storageType = "FloatStorage", long numel = 6, long offset = 0,
        long[]? size = null, long[]? stride = null, object? numelOverride = null)
    {
        size ??= [2, 3];
        stride ??= [3, 1];
        var p = new PickleBytes();
        p.Op(0x80).Op(2).Op('}');
        p.Str("w");
        p.Global("torch._utils", "_rebuild_tensor_v2");
        p.Op('(');
        p.Op('(').Str("storage").Global("torch", storageType).Str(storageKey).Str("cpu");
        if (numelOverride is string s) p.Str(s);
        else p.Int(numel);
        p.Op('t').Op('Q');
        p.Int(offset);
        p.Op('(');
        foreach (long d in size) p.Int(d);
        p.Op('t').Op('(');
        foreach (long d in stride) p.Int(d);
        p.Op('t').Op(0x89).Op('}').Op('t').Op('R').Op('s').Op('.');
        return p.ToArray();
    }

    /// <summary>A zip holding <c>archive/data.pkl</c> and the given storages under <c>archive/data/KEY</c>, stored uncompressed as torch does.</summary>
    public static byte[] Zip(byte[]? pickle, params (string Key, byte[] Bytes)[] storages)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            if (pickle is not null) Write(zip, "archive/data.pkl", pickle);
            foreach ((string key, byte[] bytes) in storages) Write(zip, "archive/data/" + key, bytes);
        }
        return ms.ToArray();
    }

    private static void Write(ZipArchive zip, string name, byte[] bytes)
    {
        using Stream s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        s.Write(bytes);
    }

    public static byte[] Valid() => Zip(StateDictPickle(), ("0", new byte[24]));

    public static IEnumerable<Case> All()
    {
        byte[] valid = Valid();
        yield return new("pt-not-a-zip", ".pth", "not a checkpoint at all, just text"u8.ToArray(), "not a checkpoint this engine reads");
        yield return new("pt-truncated-zip", ".pth", valid[..(valid.Length / 2)], "damaged or truncated");
        yield return new("pt-zip-without-data-pkl", ".pth", Zip(null, ("0", new byte[24])), "without data.pkl");
        yield return new("pt-pickle-truncated", ".pth", Zip(StateDictPickle()[..30], ("0", new byte[24])), "pickle ends early");
        yield return new("pt-pickle-unknown-opcode", ".pth", Zip([0x80, 2, 0xFA, (byte)'.'], ("0", new byte[24])), "unknown pickle opcode 0xfa");
        yield return new("pt-pickle-empty-stack", ".pth", Zip([0x80, 2, (byte)'.'], ("0", new byte[24])), "damaged or truncated");
        yield return new("pt-pickle-append-to-none", ".pth", Zip([0x80, 2, (byte)'N', (byte)'N', (byte)'a', (byte)'.'], ("0", new byte[24])), "damaged");
        yield return new("pt-pickle-bad-int-text", ".pth", Zip([0x80, 2, (byte)'I', .. "12x\n"u8, (byte)'.'], ("0", new byte[24])), "damaged");
        yield return new("pt-pickle-numel-not-a-number", ".pth", Zip(StateDictPickle(numelOverride: "many"), ("0", new byte[24])), "damaged");
        yield return new("pt-pickle-dict-contains-itself", ".pth", Zip(SelfContainingDict(), ("0", new byte[24])), "no state dict found");
        yield return new("pt-storage-missing", ".pth", Zip(StateDictPickle(storageKey: "7"), ("0", new byte[24])), "which the archive lacks");
        yield return new("pt-storage-truncated", ".pth", Zip(StateDictPickle(), ("0", new byte[10])), "the file is truncated");
        yield return new("pt-view-past-storage", ".pth", Zip(StateDictPickle(offset: 4), ("0", new byte[24])), "reaches element 10 of a 6-element storage");
        yield return new("pt-unknown-storage-type", ".pth", Zip(StateDictPickle(storageType: "ComplexFloatStorage"), ("0", new byte[24])), "ComplexFloatStorage cannot be imported");
        yield return new("pt-negative-stride", ".pth", Zip(StateDictPickle(stride: [-3, 1]), ("0", new byte[24])), "negative");
        yield return new("pt-negative-offset", ".pth", Zip(StateDictPickle(offset: -6), ("0", new byte[24])), "negative");
        yield return new("pt-rank-of-stride-differs", ".pth", Zip(StateDictPickle(stride: [1]), ("0", new byte[24])), "strides");
        yield return new("pt-numel-overflows-to-zero", ".pth", Zip(StateDictPickle(size: [65536, 65536, 65536, 65536], stride: [0, 0, 0, 0]), ("0", new byte[24])), "overflows");
        yield return new("pt-negative-dimension", ".pth", Zip(StateDictPickle(size: [-2, 3]), ("0", new byte[24])), "dimension -2");
        yield return new("pt-pickle-bomb-300mb", ".pth", PickleBomb(), "data.pkl");
        yield return new("dat-empty", ".dat", [], "not a readable TorchSharp .dat file");
        yield return new("dat-count-huge", ".dat", Leb(10_000_000), "entry count 10000000 is impossible");
        yield return new("dat-truncated-key", ".dat", [.. Leb(1), 10, (byte)'a'], "not a readable TorchSharp .dat file");
        yield return new("dat-unknown-scalar-type", ".dat", [.. Leb(1), .. Str("w"), .. Leb(99), .. Leb(1), .. Leb(2)], "scalar type 99");
        yield return new("dat-rank-17", ".dat", [.. Leb(1), .. Str("w"), .. Leb(6), .. Leb(17)], "rank 17");
        yield return new("dat-data-truncated", ".dat", [.. Leb(1), .. Str("w"), .. Leb(6), .. Leb(2), .. Leb(2), .. Leb(3), .. new byte[10]], "truncated");
        yield return new("dat-numel-overflows-to-zero", ".dat", [.. Leb(1), .. Str("w"), .. Leb(6), .. Leb(4), .. Leb(65536), .. Leb(65536), .. Leb(65536), .. Leb(65536)], "overflows");
        yield return new("dat-trailing-bytes", ".dat", [.. Leb(1), .. Str("w"), .. Leb(6), .. Leb(1), .. Leb(1), .. new byte[4], 9, 9], "bytes follow the last tensor");
        yield return new("dat-leb128-too-long", ".dat", [.. Enumerable.Repeat((byte)0xFF, 12)], "LEB128");
    }

    /// <summary>d = {}; d["model"] = d: a state-dict search that follows "model" must not recurse forever.</summary>
    private static byte[] SelfContainingDict()
    {
        var p = new PickleBytes();
        p.Op(0x80).Op(2).Op('}').Op('q').Op(0).Str("model").Op('h').Op(0).Op('s').Op('.');
        return p.ToArray();
    }

    /// <summary>A data.pkl that inflates to 300 MB (zeros, deflated to ~300 KB): refused from its declared size.</summary>
    private static byte[] PickleBomb()
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            using Stream s = zip.CreateEntry("archive/data.pkl", CompressionLevel.Fastest).Open();
            var block = new byte[1 << 20];
            for (int i = 0; i < 300; i++) s.Write(block);
        }
        return ms.ToArray();
    }

    private static byte[] Leb(long v)
    {
        var b = new List<byte>();
        do
        {
            byte x = (byte)(v & 0x7F);
            v >>= 7;
            b.Add(v != 0 ? (byte)(x | 0x80) : x);
        }
        while (v != 0);
        return [.. b];
    }

    private static byte[] Str(string s)
    {
        var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true)) w.Write(s);
        return ms.ToArray();
    }

    /// <summary>Pickle opcodes written one by one.</summary>
    private sealed class PickleBytes
    {
        private readonly MemoryStream _ms = new();

        public PickleBytes Op(int b)
        {
            _ms.WriteByte((byte)b);
            return this;
        }

        public PickleBytes Op(char c) => Op((int)c);

        public PickleBytes Str(string s)
        {
            byte[] b = Encoding.UTF8.GetBytes(s);
            Op('X');
            _ms.Write(BitConverter.GetBytes(b.Length));
            _ms.Write(b);
            return this;
        }

        public PickleBytes Int(long v)
        {
            Op('J');
            _ms.Write(BitConverter.GetBytes(checked((int)v)));
            return this;
        }

        public PickleBytes Global(string module, string name)
        {
            Op('c');
            _ms.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));
            return this;
        }

        public byte[] ToArray() => _ms.ToArray();
    }
}
