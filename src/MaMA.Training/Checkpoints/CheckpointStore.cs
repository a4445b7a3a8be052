using System.Globalization;
using System.Text.Json;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Training.Guards;

namespace MaMA.Training.Checkpoints;

/// <summary>
/// The checkpoints of a run: one folder per step, <c>ROOT/step-000500/</c>, holding
/// <c>model.safetensors</c> (what training changes: the trained parameters and the persistent
/// buffers; the frozen rest is named by <see cref="TrainingCheckpoint.FrozenBase"/>), <c>optimizer.safetensors</c> (moments and
/// per-parameter step, keyed by parameter name) and <c>state.json</c> (<see cref="TrainingCheckpoint"/>
/// with the SHA-256 of the two other files).
/// <para>
/// Crash safety: a checkpoint is written into <c>ROOT/.tmp-step-000500-PID/</c>, every file flushed
/// to disk, state.json written last, and only then renamed to its final name (one atomic rename),
/// so a killed run leaves at most a temporary folder, which is never read and is removed by the
/// next <see cref="Save"/> or <see cref="RemoveTemporaries"/>. Loading checks the format and every
/// checksum and falls back to the next older checkpoint, with a warning, when one is damaged.
/// Only the newest <see cref="KeepLast"/> checkpoints are kept.
/// </para>
/// </summary>
public sealed class CheckpointStore
{
    public const string ModelFile = "model.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "state.json";
    private const string Prefix = "step-";
    private const string TempPrefix = ".tmp-";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    private readonly Action<string> _warn;

    public CheckpointStore(string root, int keepLast, Action<string>? warn = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        if (keepLast < 1) throw new ArgumentOutOfRangeException(nameof(keepLast), $"keep_last must be at least 1, not {keepLast}.");
        Root = Path.GetFullPath(root);
        KeepLast = keepLast;
        _warn = warn ?? (m => Console.Error.WriteLine("warning: " + m));
    }

    public string Root { get; }

    public int KeepLast { get; }

    public static string FolderName(long step) => Prefix + step.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>Completed checkpoint folders (by name; not yet verified), oldest first.</summary>
    public IReadOnlyList<(long Step, string Path)> List()
    {
        if (!Directory.Exists(Root)) return [];
        var found = new List<(long, string)>();
        foreach (string dir in Directory.EnumerateDirectories(Root, Prefix + "*"))
        {
            string name = Path.GetFileName(dir);
            if (long.TryParse(name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long step)) found.Add((step, dir));
        }
        found.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return found;
    }

    /// <summary>
    /// Writes the checkpoint of <paramref name="state"/>.Step atomically (see the class summary),
    /// replacing a folder of the same step (left by a run that was resumed from an older one),
    /// then removes all but the newest <see cref="KeepLast"/>. Returns the folder.
    /// </summary>
    public string Save(TrainingCheckpoint state, IReadOnlyDictionary<string, Tensor> model, IReadOnlyDictionary<string, Tensor> optimizer)
    {
        ArgumentNullException.ThrowIfNull(state);
        Directory.CreateDirectory(Root);
        RemoveTemporaries();
        string final = Path.Combine(Root, FolderName(state.Step));
        string temp = Path.Combine(Root, TempPrefix + FolderName(state.Step) + "-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(temp);
        try
        {
            // Streamed one tensor at a time (flushed to disk, SHA-256 computed on the way out).
            var metadata = new Dictionary<string, string> { ["step"] = state.Step.ToString(CultureInfo.InvariantCulture) };
            string modelSha = SafetensorsStreamWriter.Write(Path.Combine(temp, ModelFile), Sources(model), metadata: metadata);
            FaultInjection.AtCheckpointPoint(state.Step, "model", temp);
            string optimizerSha = SafetensorsStreamWriter.Write(Path.Combine(temp, OptimizerFile), Sources(optimizer), metadata: metadata);
            FaultInjection.AtCheckpointPoint(state.Step, "optimizer", temp);
            TrainingCheckpoint sealedState = state with
            {
                Sha256 = new Dictionary<string, string> { [ModelFile] = modelSha, [OptimizerFile] = optimizerSha },
            };
            DurableFiles.WriteAllBytes(Path.Combine(temp, StateFile), JsonSerializer.SerializeToUtf8Bytes(sealedState, Json));
            DurableFiles.FlushDirectory(temp);
            FaultInjection.AtCheckpointPoint(state.Step, "state", temp);
            if (Directory.Exists(final))
            {
                // Same step written before (a resume from an older checkpoint): move it aside first,
                // so that some complete checkpoint of this step exists at every moment.
                string old = Path.Combine(Root, TempPrefix + "old-" + FolderName(state.Step) + "-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
                Directory.Move(final, old);
                Directory.Move(temp, final);
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Directory.Move(temp, final);
            }
            DurableFiles.FlushDirectory(Root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException || e is ArgumentOutOfRangeException { ParamName: "value" })
        {
            // Disk full (ENOSPC: IOException), a file-size limit (EFBIG, which .NET reports as
            // ArgumentOutOfRangeException "Specified file length was too large for the file system"),
            // a vanished mount: one message that says what was written, that nothing half-written is
            // left, and which checkpoint still stands.
            TryDelete(temp);
            IReadOnlyList<(long Step, string Path)> kept = List();
            string newest = kept.Count > 0 ? $"the newest complete checkpoint, {Path.GetFileName(kept[^1].Path)}, is intact" : "there is no earlier checkpoint";
            throw new IOException(
                $"could not write checkpoint {FolderName(state.Step)} in {Root}: {Reason(e)}. The partial files were removed and {newest}; " +
                "free disk space (or raise the file-size limit), then continue with --resume.", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        Prune();
        return final;
    }

    /// <summary>
    /// The newest checkpoint that passes verification, or null when there is none. Each damaged
    /// newer one is reported through the warning callback and renamed to <c>damaged-step-NNNNNN</c>
    /// (kept for inspection, no longer listed), so the run continues from the good one.
    /// </summary>
    public LoadedCheckpoint? LoadNewest()
    {
        IReadOnlyList<(long Step, string Path)> all = List();
        for (int i = all.Count - 1; i >= 0; i--)
        {
            try
            {
                return Verify(all[i].Path);
            }
            catch (InvalidDataException e)
            {
                string aside = SetAside(all[i].Path);
                _warn($"checkpoint {all[i].Path} is damaged ({e.Message}); moved to {Path.GetFileName(aside)}, " +
                      (i > 0 ? $"falling back to {Path.GetFileName(all[i - 1].Path)}." : "no older checkpoint to fall back to."));
            }
        }
        return null;
    }

    /// <summary>Reads state.json of <paramref name="folder"/> and checks every file's SHA-256; <see cref="InvalidDataException"/> otherwise.</summary>
    public static LoadedCheckpoint Verify(string folder)
    {
        string statePath = Path.Combine(folder, StateFile);
        if (!File.Exists(statePath)) throw new InvalidDataException($"{StateFile} is missing");
        TrainingCheckpoint? state;
        try
        {
            state = JsonSerializer.Deserialize<TrainingCheckpoint>(File.ReadAllBytes(statePath), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{StateFile} is not valid JSON: {e.Message}", e);
        }
        if (state is null) throw new InvalidDataException($"{StateFile} is empty");
        if (state.FormatVersion is < TrainingCheckpoint.OldestReadableFormatVersion or > TrainingCheckpoint.CurrentFormatVersion)
            throw new InvalidDataException($"{StateFile} has format_version {state.FormatVersion}, this engine reads {TrainingCheckpoint.OldestReadableFormatVersion} to {TrainingCheckpoint.CurrentFormatVersion}");
        // "sha256": null deserialises to a null table: a damaged state, not a crash of the resume.
        if (state.Sha256 is null) throw new InvalidDataException($"{StateFile} has no checksum table");
        foreach (string file in new[] { ModelFile, OptimizerFile })
        {
            string path = Path.Combine(folder, file);
            if (!state.Sha256.TryGetValue(file, out string? expected)) throw new InvalidDataException($"{StateFile} lists no checksum for {file}");
            if (!File.Exists(path)) throw new InvalidDataException($"{file} is missing");
            string actual = DurableFiles.Sha256Of(path);
            if (!string.Equals(actual, expected, StringComparison.Ordinal)) throw new InvalidDataException($"{file} has SHA-256 {actual[..12]}..., {StateFile} says {expected[..Math.Min(12, expected.Length)]}...");
        }
        CheckFinite(Path.Combine(folder, ModelFile));
        return new LoadedCheckpoint(folder, state);
    }

    /// <summary>
    /// Weights with NaN/Inf pass the checksums when they were written that way (a diverged run, a
    /// hand-edited file); resuming from them would only skip step after step. They are refused
    /// here, so the store falls back to the previous checkpoint.
    /// </summary>
    private static void CheckFinite(string modelPath)
    {
        using SafetensorsFile file = Safetensors.Open(modelPath);
        foreach ((string name, SafetensorsEntry entry) in file.Entries)
        {
            if (!entry.DType.IsFloating()) continue;
            using Tensor t = file.Load(name);
            int bad = 0;
            foreach (float v in t.ToFloatArray())
                if (!float.IsFinite(v)) bad++;
            if (bad > 0) throw new InvalidDataException($"{ModelFile} tensor '{name}' holds {bad} non-finite value(s) (NaN/Inf)");
        }
    }

    private static Dictionary<string, TensorSource> Sources(IReadOnlyDictionary<string, Tensor> tensors) =>
        tensors.ToDictionary(kv => kv.Key, kv => TensorSource.Of(kv.Value), StringComparer.Ordinal);

    /// <summary>
    /// Deletes temporary folders left by killed writers (never read as checkpoints). One exception:
    /// a complete checkpoint that <see cref="Save"/> had moved aside to replace it (<c>.tmp-old-step-N-PID</c>)
    /// goes back to its place when the kill came before the new one took it.
    /// </summary>
    public void RemoveTemporaries()
    {
        if (!Directory.Exists(Root)) return;
        foreach (string dir in Directory.EnumerateDirectories(Root, TempPrefix + "*"))
        {
            try
            {
                if (MovedAsideStep(Path.GetFileName(dir)) is { } step && !Directory.Exists(Path.Combine(Root, FolderName(step))))
                {
                    Directory.Move(dir, Path.Combine(Root, FolderName(step)));
                    _warn($"restored {FolderName(step)}, which a killed run had moved aside to replace it");
                    continue;
                }
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException e)
            {
                _warn($"could not remove the temporary folder {dir}: {e.Message}");
            }
        }
    }

    /// <summary>The step of a folder named <c>.tmp-old-step-NNNNNN-PID</c> (see <see cref="Save"/>), else null.</summary>
    private static long? MovedAsideStep(string name)
    {
        const string aside = TempPrefix + "old-" + Prefix;
        if (!name.StartsWith(aside, StringComparison.Ordinal)) return null;
        string rest = name[aside.Length..];
        int dash = rest.IndexOf('-');
        return dash > 0 && long.TryParse(rest.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out long step) ? step : null;
    }

    private static string Reason(Exception e) => e is ArgumentOutOfRangeException
        ? "a file grew past the file-size limit or what the file system allows (EFBIG)"
        : e.Message.TrimEnd('.');

    private void TryDelete(string temp)
    {
        try
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
        catch (IOException e)
        {
            _warn($"could not remove the temporary folder {temp}: {e.Message}; the next run removes it.");
        }
    }

    private static string SetAside(string folder)
    {
        string parent = Path.GetDirectoryName(folder)!;
        string target = Path.Combine(parent, "damaged-" + Path.GetFileName(folder));
        for (int n = 1; Directory.Exists(target); n++) target = Path.Combine(parent, $"damaged-{Path.GetFileName(folder)}-{n}");
        Directory.Move(folder, target);
        return target;
    }

    private void Prune()
    {
        IReadOnlyList<(long Step, string Path)> all = List();
        for (int i = 0; i < all.Count - KeepLast; i++) Directory.Delete(all[i].Path, recursive: true);
    }
}

/// <summary>A verified checkpoint folder and its state.</summary>
public sealed record LoadedCheckpoint(string Folder, TrainingCheckpoint State)
{
    public string ModelPath => Path.Combine(Folder, CheckpointStore.ModelFile);

    public string OptimizerPath => Path.Combine(Folder, CheckpointStore.OptimizerFile);
}
