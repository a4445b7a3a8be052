using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.GoldenGen;

/// <summary>
/// The <c>ops</c> command: every <see cref="OpCatalog"/> case computed by libtorch only
/// (<see cref="ParityRunner.RunTorch"/> on <see cref="OpData.Generate"/> inputs with the fixed seed,
/// upstream gradient from <see cref="ParityRunner.Upstream"/>), one safetensors file per case plus
/// manifest.json. Every case is computed before anything is written, so a failing case leaves the
/// existing goldens untouched.
/// </summary>
internal static class OpGoldens
{
    /// <summary>One computed case, not yet written.</summary>
    private sealed record Computed(OpCase Case, Dictionary<string, EngineTensor> Tensors, SortedDictionary<string, ManifestInput> Inputs, int[] OutputShape);

    public static int Generate(string outDir, int seed, IReadOnlyList<string>? only, TextWriter stdout, TextWriter stderr)
    {
        string torchVersion = torch.__version__;
        // One libtorch thread: reductions and GEMMs then accumulate in one fixed order, so reruns
        // (and machines with other core counts) give byte-identical files.
        torch.set_num_threads(1);

        IReadOnlyList<OpCase> catalog = OpCatalog.All;
        var known = catalog.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        List<OpCase> selected = catalog.ToList();
        if (only is not null)
        {
            string[] unknown = only.Where(n => !known.Contains(n)).Distinct(StringComparer.Ordinal).ToArray();
            if (unknown.Length > 0)
                throw new GoldenGenException($"no op case named {string.Join(", ", unknown.Select(n => $"'{n}'"))}; the catalog has: {string.Join(", ", catalog.Select(c => c.Name))}");
            selected = catalog.Where(c => only.Contains(c.Name, StringComparer.Ordinal)).ToList();
        }

        string manifestPath = Path.Combine(outDir, Manifest.FileName);
        Manifest? previous;
        try
        {
            previous = Manifest.TryRead(manifestPath);
        }
        catch (GoldenGenException e) when (only is null)
        {
            stderr.WriteLine($"warning: ignoring the existing manifest: {e.Message}");
            previous = null;
        }
        if (only is not null && previous is not null)
        {
            if (previous.Seed != seed)
                throw new GoldenGenException($"{Show(manifestPath)} was generated with seed {previous.Seed}, not {seed}; pass --seed {previous.Seed} or regenerate every case (no --only)");
            if (previous.Torch != torchVersion)
                throw new GoldenGenException($"{Show(manifestPath)} was generated with torch {previous.Torch}, this is torch {torchVersion}; regenerate every case (no --only)");
        }

        stdout.WriteLine($"golden ops: {selected.Count} of {catalog.Count} cases, seed {seed}, torch {torchVersion} -> {Show(outDir)}");
        var computed = new List<Computed>();
        var failed = new List<string>();
        int width = selected.Count.ToString(CultureInfo.InvariantCulture).Length;
        int nameWidth = selected.Count == 0 ? 0 : selected.Max(c => c.Name.Length);
        for (int k = 0; k < selected.Count; k++)
        {
            OpCase c = selected[k];
            string counter = $"[{(k + 1).ToString(CultureInfo.InvariantCulture).PadLeft(width)}/{selected.Count}]";
            var clock = Stopwatch.StartNew();
            try
            {
                Computed result = Compute(c, seed);
                computed.Add(result);
                string ins = string.Join(" ", c.Inputs.Select(i => $"{i.Name}{Manifest.Describe(i.Shape)}{(i.Kind == InputKind.Index ? ":i64" : "")}"));
                string grads = string.Join(",", c.Inputs.Where(i => i.Differentiable).Select(i => i.Name));
                stdout.WriteLine($"{counter} {c.Name.PadRight(nameWidth)}  {ins} -> {Manifest.Describe(result.OutputShape)}  grads: {(grads.Length == 0 ? "-" : grads)}  ({clock.ElapsedMilliseconds} ms)");
                foreach ((string name, EngineTensor t) in result.Tensors)
                {
                    int bad = t.DType == DType.Float32 ? t.ToArray<float>().Count(v => !float.IsFinite(v)) : 0;
                    if (bad > 0) stderr.WriteLine($"{counter} warning: {c.Name}: '{name}' has {bad} non-finite values");
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                failed.Add(c.Name);
                stderr.WriteLine($"{counter} {c.Name.PadRight(nameWidth)}  FAILED: {e.GetType().Name}: {e.Message}");
            }
        }
        if (failed.Count > 0)
        {
            stderr.WriteLine($"error: {failed.Count} case(s) failed ({string.Join(", ", failed)}); nothing was written");
            return 1;
        }

        // Entries kept from the previous manifest (--only), minus cases that left the catalog.
        var manifest = new Manifest { Torch = torchVersion, Seed = seed };
        if (only is not null && previous is not null)
            foreach ((string name, ManifestCase entry) in previous.Cases)
                if (known.Contains(name)) manifest.Cases[name] = entry;

        Directory.CreateDirectory(outDir);
        var changed = new List<string>();
        var added = new List<string>();
        long totalBytes = 0;
        foreach (Computed r in computed)
        {
            string file = r.Case.Name + ".safetensors";
            string path = Path.Combine(outDir, file);
            var metadata = new Dictionary<string, string>
            {
                ["case"] = r.Case.Name,
                ["seed"] = seed.ToString(CultureInfo.InvariantCulture),
                ["torch"] = torchVersion,
            };
            Safetensors.Write(path, r.Tensors, metadata);
            foreach (EngineTensor t in r.Tensors.Values) t.Dispose();
            byte[] bytes = File.ReadAllBytes(path);
            totalBytes += bytes.Length;
            string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (previous?.Cases.GetValueOrDefault(r.Case.Name) is not { } old) added.Add(r.Case.Name);
            else if (old.Sha256 != sha) changed.Add(r.Case.Name);
            manifest.Cases[r.Case.Name] = new ManifestCase(file, r.Inputs, r.OutputShape, "F32", r.Case.Tolerance, r.Case.GradTolerance, sha);
        }
        manifest.Write(manifestPath);

        // Files of cases that are no longer in the catalog.
        var removed = new List<string>();
        if (previous is not null)
            foreach ((string name, ManifestCase entry) in previous.Cases)
            {
                if (manifest.Cases.ContainsKey(name)) continue;
                removed.Add(name);
                string stale = Path.Combine(outDir, entry.File);
                if (Path.GetFileName(entry.File) == entry.File && entry.File.EndsWith(".safetensors", StringComparison.Ordinal) && File.Exists(stale))
                    File.Delete(stale);
            }

        stdout.WriteLine($"wrote {computed.Count} file(s), {totalBytes / 1024.0:F1} KiB, and {Show(manifestPath)} ({manifest.Cases.Count} cases)");
        if (added.Count > 0) stdout.WriteLine($"  new:     {string.Join(", ", added)}");
        if (changed.Count > 0) stdout.WriteLine($"  changed: {string.Join(", ", changed)}");
        if (removed.Count > 0) stdout.WriteLine($"  removed: {string.Join(", ", removed)}");
        string[] missing = catalog.Select(c => c.Name).Where(n => !manifest.Cases.ContainsKey(n)).ToArray();
        if (missing.Length > 0)
            stderr.WriteLine($"warning: {missing.Length} catalog case(s) have no golden yet ({JoinNames(missing)}); run without --only");
        return 0;
    }

    private static Computed Compute(OpCase c, int seed)
    {
        OpData data = OpData.Generate(c, seed);
        OpResult r = ParityRunner.RunTorch(c, data, shape => ParityRunner.Upstream(shape, seed));
        if (r.Output.Length != Shape.Numel(r.OutputShape))
            throw new InvalidOperationException($"output has {r.Output.Length} values for shape {Manifest.Describe(r.OutputShape)}");

        var tensors = new Dictionary<string, EngineTensor>(StringComparer.Ordinal);
        var inputs = new SortedDictionary<string, ManifestInput>(StringComparer.Ordinal);
        OpData fresh = OpData.Generate(c, seed); // the same values, untouched by any in-place update (running statistics)
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            OpInput spec = c.Inputs[i];
            EngineTensor t = fresh.EngineInput(i, Device.Cpu);
            tensors["in." + spec.Name] = t;
            inputs[spec.Name] = new ManifestInput(spec.Shape, t.DType.SafetensorsName());
        }
        tensors["out"] = EngineTensor.FromArray(r.Output, r.OutputShape, Device.Cpu);
        if (c.Inputs.Any(i => i.Differentiable))
        {
            tensors["grad_out"] = EngineTensor.FromArray(ParityRunner.Upstream(r.OutputShape, seed), r.OutputShape, Device.Cpu);
            foreach (OpInput spec in c.Inputs.Where(i => i.Differentiable))
            {
                if (!r.Grads.TryGetValue(spec.Name, out float[]? g)) throw new InvalidOperationException($"libtorch gave no gradient for input '{spec.Name}'");
                tensors["grad." + spec.Name] = EngineTensor.FromArray(g, spec.Shape, Device.Cpu);
            }
        }
        return new Computed(c, tensors, inputs, r.OutputShape);
    }

    /// <summary>At most 12 names, then a count.</summary>
    private static string JoinNames(IReadOnlyCollection<string> names) =>
        string.Join(", ", names.Take(12)) + (names.Count > 12 ? $", ... ({names.Count - 12} more)" : "");

    private static string Show(string path)
    {
        string rel = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return rel.StartsWith("..", StringComparison.Ordinal) ? path : rel;
    }
}
