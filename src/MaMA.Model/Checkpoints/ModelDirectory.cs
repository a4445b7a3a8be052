using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;

namespace MaMA.Model.Checkpoints;

/// <summary>
/// Our model format: a folder with <c>config.json</c> (<see cref="ModelConfigFile"/>, which records
/// the SHA-256 of the weights), <c>model.safetensors</c> (bf16, fp16 or fp32 weights under the
/// model's state-dict names) and optionally <c>tokenizer/</c> (vocab.json, merges.txt,
/// added_tokens.json / special_tokens_map.json / tokenizer_config.json).
/// A save is built in a hidden sibling folder and renamed into place only when complete (after an
/// optional verification), so a crash or a failed check never leaves a half-written model folder
/// and an existing one is only replaced by a finished one.
/// </summary>
public static class ModelDirectory
{
    public const string WeightsFile = "model.safetensors";

    public const string TokenizerFolder = "tokenizer";

    /// <summary>Tokenizer files a model folder may carry (others are refused, to keep the folder's meaning plain).</summary>
    public static IReadOnlySet<string> TokenizerFileNames { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "vocab.json", "merges.txt", "added_tokens.json", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json",
    };

    /// <summary>How <see cref="Save(string, ModelConfigFile, IReadOnlyDictionary{string, TensorSource}, SaveOptions?)"/> writes.</summary>
    public sealed record SaveOptions
    {
        /// <summary>Floating tensors are stored in this dtype (null: as they come).</summary>
        public DType? FloatDType { get; init; }

        /// <summary>Files copied into <c>tokenizer/</c> by their file name.</summary>
        public IReadOnlyList<string>? TokenizerFiles { get; init; }

        /// <summary>
        /// Extra string pairs for the weights file's safetensors <c>__metadata__</c> (with <c>format</c> and
        /// <c>mama_arch</c>, which they cannot replace); written with the weights, so they change atomically with them.
        /// </summary>
        public IReadOnlyDictionary<string, string>? Metadata { get; init; }

        /// <summary>Runs on the finished temporary folder before it is renamed into place; throwing aborts the save.</summary>
        public Action<string>? Verify { get; init; }

        /// <summary>(tensors done, total, bytes written, total bytes) while the weights are written.</summary>
        public Action<int, int, long, long>? Progress { get; init; }
    }

    /// <summary>Saves in-memory tensors (a module's <c>StateDict()</c>).</summary>
    public static ModelConfigFile Save(string dir, ModelConfigFile config, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyList<string>? tokenizerFiles = null) =>
        Save(dir, config, tensors.ToDictionary(kv => kv.Key, kv => TensorSource.Of(kv.Value), StringComparer.Ordinal), new SaveOptions { TokenizerFiles = tokenizerFiles });

    /// <summary>
    /// Writes the folder atomically and returns the config as written (with dtype and checksum).
    /// Errors name the folder or file and leave nothing behind.
    /// </summary>
    public static ModelConfigFile Save(string dir, ModelConfigFile config, IReadOnlyDictionary<string, TensorSource> tensors, SaveOptions? options = null)
    {
        options ??= new SaveOptions();
        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        string parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{dir}' cannot be a model folder (it is a file-system root).");
        string name = Path.GetFileName(target);
        if (File.Exists(target)) throw new IOException($"'{target}' is a file; a model needs a folder there.");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !File.Exists(Path.Combine(target, ModelConfigFile.FileName)))
            throw new IOException($"'{target}' exists and is not a model folder (no {ModelConfigFile.FileName}); refusing to replace it. Choose another --out or empty it.");
        foreach (string f in options.TokenizerFiles ?? [])
        {
            if (!File.Exists(f)) throw new FileNotFoundException($"tokenizer file '{f}' does not exist.", f);
            if (!TokenizerFileNames.Contains(Path.GetFileName(f)))
                throw new ArgumentException($"tokenizer file '{f}': a model folder's tokenizer/ holds only {string.Join(", ", TokenizerFileNames)}.");
        }

        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{name}.partial-{Environment.ProcessId}-{Guid.NewGuid():N}");
        string old = Path.Combine(parent, $".{name}.replaced-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            var metadata = new Dictionary<string, string>(options.Metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal)
            {
                ["format"] = "pt", ["mama_arch"] = config.Arch.ToString().ToLowerInvariant(),
            };
            string sha = SafetensorsStreamWriter.Write(Path.Combine(tmp, WeightsFile), tensors, options.FloatDType, metadata, options.Progress);
            ModelConfigFile written = config with { WeightsSha256 = sha, Dtype = DTypeName(StoredFloatDType(tensors, options.FloatDType)) };
            written.Save(Path.Combine(tmp, ModelConfigFile.FileName));
            if (options.TokenizerFiles is { Count: > 0 } tok)
            {
                string tokDir = Directory.CreateDirectory(Path.Combine(tmp, TokenizerFolder)).FullName;
                foreach (string f in tok) File.Copy(f, Path.Combine(tokDir, Path.GetFileName(f)));
            }
            options.Verify?.Invoke(tmp);

            bool replacing = Directory.Exists(target);
            if (replacing) Directory.Move(target, old);
            try
            {
                Directory.Move(tmp, target);
            }
            catch
            {
                if (replacing) Directory.Move(old, target);
                throw;
            }
            if (replacing) Directory.Delete(old, recursive: true);
            return written;
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// The model folder <paramref name="dir"/> stands for: itself, or for a pre-training run folder
    /// (no <see cref="WeightsFile"/>, a <c>final/</c> model inside) its final model. A run folder
    /// without one yet (its run has not finished) is an error saying so; anything else is returned
    /// as given, for <see cref="Load"/> to check.
    /// </summary>
    public static string Resolve(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir) || File.Exists(Path.Combine(dir, WeightsFile))) return dir;
        string final = Path.Combine(dir, "final");
        if (File.Exists(Path.Combine(final, WeightsFile))) return final;
        if (Directory.Exists(Path.Combine(dir, "checkpoints")))
            throw new FileNotFoundException($"{Path.GetFullPath(dir)} is a pre-training run folder without a final model (final/{WeightsFile}): " +
                                            "its run has not finished. Continue it with `mama pretrain --out DIR --resume`, or pass a model folder.", final);
        return dir;
    }

    /// <summary>
    /// Opens a model folder (or a pre-training run folder's final model, <see cref="Resolve"/>):
    /// parses the config, checks the weights' SHA-256 against it (when recorded and
    /// <paramref name="verifyChecksum"/>), and maps the weights without copying.
    /// </summary>
    public static ModelCheckpoint Load(string dir, bool verifyChecksum = true)
    {
        string full = Path.GetFullPath(Resolve(dir));
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException(File.Exists(full)
                ? $"'{full}' is a file; a model is a folder with {ModelConfigFile.FileName} and {WeightsFile} (import one with `mama import`)."
                : $"model folder '{full}' does not exist.");
        ModelConfigFile config = ModelConfigFile.Load(Path.Combine(full, ModelConfigFile.FileName));
        string weights = Path.Combine(full, WeightsFile);
        if (!File.Exists(weights)) throw new FileNotFoundException($"{full}: the model folder has no {WeightsFile}.", weights);
        if (verifyChecksum && config.WeightsSha256 is { } expected)
        {
            string actual = WeightsChecksum.OfFile(weights);
            if (actual != expected)
                throw new InvalidDataException($"{weights}: SHA-256 {actual} does not match {expected} recorded in {ModelConfigFile.FileName}; "
                                               + "the weights are damaged or were replaced. Copy or import the model again.");
        }
        SafetensorsFile file = Safetensors.Open(weights);
        string tokenizer = Path.Combine(full, TokenizerFolder);
        return new ModelCheckpoint(full, config, file, Directory.Exists(tokenizer) ? tokenizer : null);
    }

    /// <summary>"float32", "bfloat16" or "float16" (config.json's spelling).</summary>
    public static string DTypeName(DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.BFloat16 => "bfloat16",
        DType.Float16 => "float16",
        _ => throw new ArgumentException($"{dtype} is not a weight dtype (float32, bfloat16, float16)."),
    };

    /// <summary>Inverse of <see cref="DTypeName"/>.</summary>
    public static DType ParseDType(string name) => name switch
    {
        "float32" or "fp32" => DType.Float32,
        "bfloat16" or "bf16" => DType.BFloat16,
        "float16" or "fp16" => DType.Float16,
        _ => throw new ArgumentException($"dtype '{name}' is not one of float32, bfloat16, float16."),
    };

    /// <summary>The dtype most floating weights are stored in (fp32 when there are none).</summary>
    private static DType StoredFloatDType(IReadOnlyDictionary<string, TensorSource> tensors, DType? forced) =>
        forced ?? tensors.Values.Where(s => s.DType.IsFloating())
                         .GroupBy(s => s.DType).OrderByDescending(g => g.Sum(s => Shape.Numel(s.Shape))).Select(g => (DType?)g.Key).FirstOrDefault()
        ?? DType.Float32;
}
