using System.Text.Json.Nodes;
using MaMA.Engine.Serialization;
using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// Hugging Face sharded checkpoints: <c>model.safetensors.index.json</c> or
/// <c>pytorch_model.bin.index.json</c>, whose <c>weight_map</c> names the shard file of every tensor.
/// Each shard is opened once; a tensor the map promises but its shard lacks is an error naming both.
/// </summary>
public static class ShardedCheckpoint
{
    public static CheckpointSource Open(string indexPath, JsonObject? hfConfig)
    {
        JsonObject index = CheckpointReader.ReadJson(indexPath);
        if (index["weight_map"] is not JsonObject map || map.Count == 0)
            throw new InvalidDataException($"{indexPath}: no 'weight_map' object; not a sharded checkpoint index.");
        string dir = Path.GetDirectoryName(indexPath)!;
        var shards = new Dictionary<string, CheckpointSource>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, TensorSource>(StringComparer.Ordinal);
        try
        {
            foreach ((string key, JsonNode? node) in map)
            {
                string shard = node?.GetValue<string>() ?? throw new InvalidDataException($"{indexPath}: weight_map['{key}'] is not a file name.");
                if (shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                    throw new InvalidDataException($"{indexPath}: shard name '{shard}' must be a plain file name next to the index.");
                if (!shards.TryGetValue(shard, out CheckpointSource? src))
                {
                    string shardPath = Path.Combine(dir, shard);
                    if (!File.Exists(shardPath)) throw new FileNotFoundException($"{indexPath}: shard '{shard}' (for '{key}') does not exist.", shardPath);
                    src = shard.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
                        ? OpenSafetensors(shardPath)
                        : CheckpointReader.Open(shardPath);
                    shards[shard] = src;
                }
                tensors[key] = src.Tensors.TryGetValue(key, out TensorSource? t)
                    ? t
                    : throw new InvalidDataException($"{indexPath}: weight_map puts '{key}' in '{shard}', which has no such tensor.");
            }
            var result = new CheckpointSource($"{shards.Count} shards via {indexPath}", tensors, hfConfig, shards.Values);
            foreach ((string shard, CheckpointSource src) in shards)
            {
                int extra = src.Tensors.Keys.Count(k => !tensors.ContainsKey(k));
                if (extra > 0) result.Notes.Add($"{shard}: {extra} tensors not listed in the index were ignored");
            }
            return result;
        }
        catch
        {
            foreach (CheckpointSource s in shards.Values) s.Dispose();
            throw;
        }
    }

    private static CheckpointSource OpenSafetensors(string path)
    {
        SafetensorsFile st = Safetensors.Open(path);
        return new CheckpointSource($"safetensors {path}", CheckpointReader.SafetensorsSources(st), null, [st]);
    }
}
