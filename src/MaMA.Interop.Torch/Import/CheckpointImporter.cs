using System.Diagnostics;
using System.Text.Json.Nodes;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Model.Text;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// <c>mama import</c>'s work: read the checkpoint (and adapter), settle the config (given or
/// inferred), build the model to learn its exact state-dict names and shapes, map and check every
/// key, write the model folder next to its destination, and, before renaming it into place, open
/// it again (checksum) and load it strictly into the model. Any failure leaves no output folder.
/// </summary>
public static class CheckpointImporter
{
    public static ImportResult Run(ImportRequest request, TextWriter log)
    {
        var notes = new List<string>();
        using CheckpointSource source = CheckpointReader.Open(request.From);
        log.WriteLine($"reading {source.Description}: {source.Tensors.Count} tensors");
        notes.AddRange(source.Notes);

        Dictionary<string, TensorSource> tensors = new(source.Tensors, StringComparer.Ordinal);
        LoraConfig? adapterLora = null;
        CheckpointSource? adapter = null;
        try
        {
            if (request.Adapter is not null)
            {
                if (request.Arch == ModelArch.Dinov2) throw new ArgumentException("--adapter adds LoRA to GPT-2; it does not apply to --arch dinov2.");
                (adapter, adapterLora) = PeftAdapter.Open(request.Adapter);
                log.WriteLine($"adapter {adapter.Description}: {adapter.Tensors.Count} LoRA tensors, r {adapterLora.Rank}, alpha {adapterLora.Alpha}");
                MergeAdapter(request.Arch, tensors, adapter);
            }

            ModelConfigFile config = ResolveConfig(request, source.HfConfig, tensors, adapterLora, notes);
            log.WriteLine($"building the {request.Arch.ToString().ToLowerInvariant()} model to check names and shapes");
            Module model = ModelFactory.CreateToLoad(config); // names and shapes only, then the verifying load: nothing to draw
            Dictionary<string, int[]> shapes = model.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ShapeArray, StringComparer.Ordinal);
            KeyMapper.Mapping mapping = KeyMapper.Map(request.Arch, tensors, shapes, request.From);
            notes.AddRange(mapping.Notes);
            foreach (string n in notes) log.WriteLine("  note: " + n);

            long totalBytes = 0;
            var stopwatch = Stopwatch.StartNew();
            long lastReport = -1;
            ModelConfigFile written = ModelDirectory.Save(request.Out, config with { Source = Describe(request) }, mapping.Tensors, new ModelDirectory.SaveOptions
            {
                FloatDType = request.FloatDType,
                TokenizerFiles = TokenizerFiles(request),
                Progress = (done, total, bytes, all) =>
                {
                    totalBytes = all;
                    long second = stopwatch.ElapsedMilliseconds / 1000;
                    if (done == total || second != lastReport)
                    {
                        lastReport = second;
                        log.WriteLine($"  writing {done}/{total} tensors, {bytes / 1e6:F1}/{all / 1e6:F1} MB ({stopwatch.Elapsed.TotalSeconds:F1} s)");
                    }
                },
                Verify = dir =>
                {
                    log.WriteLine("verifying: checksum and strict load into the model");
                    using ModelCheckpoint check = ModelDirectory.Load(dir);
                    ModelFactory.LoadInto(model, check);
                },
            });
            log.WriteLine($"wrote {Path.GetFullPath(request.Out)} ({mapping.Tensors.Count} tensors, {written.Dtype}, sha256 {written.WeightsSha256![..12]}...)");
            return new ImportResult(written, mapping.Tensors.Count, totalBytes, notes);
        }
        finally
        {
            adapter?.Dispose();
        }
    }

    /// <summary>
    /// Adds the adapter's LoRA factors to the base tensors, under the text model's part for
    /// <c>mama</c>; a factor the base already has is an error (two sources for one weight).
    /// </summary>
    private static void MergeAdapter(ModelArch arch, Dictionary<string, TensorSource> tensors, CheckpointSource adapter)
    {
        var rules = ArchKeyRules.For(arch);
        var baseCores = tensors.Keys.Select(rules.Core).ToHashSet(StringComparer.Ordinal);
        foreach ((string key, TensorSource t) in adapter.Tensors)
        {
            string name = arch == ModelArch.Mama && !key.StartsWith("text_encoder_q.model.", StringComparison.Ordinal) ? "text_encoder_q.model." + key : key;
            if (arch == ModelArch.Gpt2 && tensors.Keys.Any(k => k.StartsWith("text_encoder_q.model.", StringComparison.Ordinal))) name = "text_encoder_q.model." + key;
            if (baseCores.Contains(rules.Core(name)))
                throw new InvalidDataException($"{adapter.Description}: '{key}' is also in the base checkpoint; import either the merged checkpoint or base + adapter.");
            tensors[name] = t;
        }
    }

    private static ModelConfigFile ResolveConfig(ImportRequest request, JsonObject? hf, Dictionary<string, TensorSource> tensors, LoraConfig? adapterLora, List<string> notes)
    {
        if (request.ConfigPath is not null)
        {
            JsonObject given = CheckpointReader.ReadJson(request.ConfigPath);
            if (given.ContainsKey("arch"))
            {
                ModelConfigFile ours = ModelConfigFile.Load(request.ConfigPath);
                if (ours.Arch != request.Arch)
                    throw new ArgumentException($"--config {request.ConfigPath} is for arch {ours.Arch.ToString().ToLowerInvariant()}, not {request.Arch.ToString().ToLowerInvariant()}.");
                notes.Add($"config from {request.ConfigPath} (not inferred)");
                return ours with { WeightsSha256 = null };
            }
            hf = given;
            notes.Add($"Hugging Face config from {request.ConfigPath}");
        }
        return ConfigInference.Infer(request.Arch, tensors, hf, adapterLora, notes);
    }

    /// <summary>Tokenizer files (vocab.json, merges.txt, ...) found beside the checkpoint, for the text models.</summary>
    private static List<string> TokenizerFiles(ImportRequest request)
    {
        if (request.Arch == ModelArch.Dinov2) return [];
        string dir = Directory.Exists(request.From) ? request.From : Path.GetDirectoryName(Path.GetFullPath(request.From))!;
        var files = ModelDirectory.TokenizerFileNames.Select(n => Path.Combine(dir, n)).Where(File.Exists).ToList();
        // A tokenizer needs both halves; a stray vocab.json next to a .pth is not one.
        return files.Any(f => f.EndsWith("vocab.json", StringComparison.Ordinal)) && files.Any(f => f.EndsWith("merges.txt", StringComparison.Ordinal)) ? files : [];
    }

    private static string Describe(ImportRequest r) =>
        $"mama import --from {Path.GetFullPath(r.From)}{(r.Adapter is null ? "" : $" --adapter {Path.GetFullPath(r.Adapter)}")} ({DateTime.UtcNow:yyyy-MM-dd HH:mm}Z)";
}
