using System.Text.Json;
using System.Text.Json.Nodes;
using MaMA.Engine.Serialization;
using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// Opens any supported checkpoint by looking at it (not by trusting its extension alone):
/// <list type="bullet">
/// <item>a <c>torch.save</c> zip (.pth, .pt, .bin, Lightning .ckpt): the state dict, also nested (<see cref="StateDictLocator"/>);</item>
/// <item>a safetensors file;</item>
/// <item>a TorchSharp <c>Module.save</c> file (.dat);</item>
/// <item>a sharded index (<c>model.safetensors.index.json</c>, <c>pytorch_model.bin.index.json</c>);</item>
/// <item>a Hugging Face folder: <c>config.json</c> plus one of the above under the standard names.</item>
/// </list>
/// PEFT adapter folders are read by <see cref="PeftAdapter"/>.
/// </summary>
public static class CheckpointReader
{
    /// <summary>Weight files looked for in a folder, in this order.</summary>
    public static readonly string[] FolderWeightNames =
        ["model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json", "pytorch_model.bin", "model.pth", "model.pt", "model.ckpt"];

    public static CheckpointSource Open(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) return OpenFolder(full);
        if (!File.Exists(full)) throw new FileNotFoundException($"checkpoint '{path}' does not exist.", path);
        return OpenFile(full, hfConfig: null);
    }

    private static CheckpointSource OpenFolder(string dir)
    {
        if (File.Exists(Path.Combine(dir, PeftAdapter.ConfigFile)) && !FolderWeightNames.Any(n => File.Exists(Path.Combine(dir, n))))
            throw new InvalidDataException($"{dir} is a PEFT adapter folder; pass the base model with --from and the adapter with --adapter {dir}.");
        string? weights = FolderWeightNames.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists)
                          ?? throw new FileNotFoundException($"{dir}: no weights found (looked for {string.Join(", ", FolderWeightNames)}).");
        JsonObject? hf = null;
        string configPath = Path.Combine(dir, "config.json");
        if (File.Exists(configPath)) hf = ReadJson(configPath);
        return OpenFile(weights, hf);
    }

    private static CheckpointSource OpenFile(string file, JsonObject? hfConfig)
    {
        if (file.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase)) return ShardedCheckpoint.Open(file, hfConfig);
        if (TorchZipCheckpoint.LooksLikeZip(file))
        {
            TorchZipCheckpoint ckpt = TorchZipCheckpoint.Open(file);
            try
            {
                (Dictionary<string, TensorSource> tensors, string where, List<string> notes) = StateDictLocator.Locate(ckpt);
                string kind = file.EndsWith(".ckpt", StringComparison.OrdinalIgnoreCase) ? "Lightning .ckpt" : "torch.save zip";
                var source = new CheckpointSource($"{kind} {file}{(where.Length > 0 ? $" ['{where}']" : "")}", tensors, hfConfig, [ckpt]);
                source.Notes.AddRange(notes);
                return source;
            }
            catch
            {
                ckpt.Dispose();
                throw;
            }
        }
        if (file.EndsWith(".dat", StringComparison.OrdinalIgnoreCase))
            return new CheckpointSource($"TorchSharp .dat {file}", TorchSharpDatFile.Read(file), hfConfig, []);
        if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || LooksLikeSafetensors(file))
        {
            SafetensorsFile st = Safetensors.Open(file);
            return new CheckpointSource($"safetensors {file}", SafetensorsSources(st), hfConfig, [st]);
        }
        throw new InvalidDataException($"{file}: not a checkpoint this engine reads (torch.save zip .pth/.pt/.bin/.ckpt, safetensors, TorchSharp .dat, "
                                       + "a sharded *.index.json, or a Hugging Face folder).");
    }

    /// <summary>Lazy sources over a safetensors file's tensors.</summary>
    public static Dictionary<string, TensorSource> SafetensorsSources(SafetensorsFile st) =>
        st.Entries.ToDictionary(e => e.Key, e => new TensorSource(e.Value.DType, e.Value.Shape, () => st.Load(e.Key), st.Path), StringComparer.Ordinal);

    /// <summary>An 8-byte little-endian header length followed by '{'.</summary>
    private static bool LooksLikeSafetensors(string file)
    {
        using var fs = File.OpenRead(file);
        Span<byte> b = stackalloc byte[9];
        if (fs.Read(b) < 9) return false;
        ulong n = BitConverter.ToUInt64(b);
        return n > 1 && n <= (ulong)fs.Length && b[8] == '{';
    }

    public static JsonObject ReadJson(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new InvalidDataException($"{path}: empty JSON.");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a JSON object ({e.Message}).", e);
        }
    }
}
