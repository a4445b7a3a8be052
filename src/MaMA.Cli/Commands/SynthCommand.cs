using System.Globalization;
using MaMA.Data.Synthetic;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama synth --out DIR [--studies N] [--seed S] [--size W|WxH] [--threads N] [--force] [--rsna]</c>: writes
/// the built-in synthetic EMBED-shaped dataset (see <see cref="SyntheticEmbed"/> and docs/data.md,
/// "Synthetic data"), and with --rsna its RSNA-Mammo-shaped view in DIR/rsna (<see cref="SyntheticRsna"/>).
/// </summary>
internal static class SynthCommand
{
    public static int Run(CommandLine cl)
    {
        string? outDir = cl.Get("out");
        int studies = cl.GetInt("studies", 100);
        int seed = cl.GetInt("seed", 0);
        (int width, int height) = ParseSize(cl.Get("size"));
        int threads = cl.GetInt("threads", 0);
        bool force = cl.Flag("force");
        bool rsna = cl.Flag("rsna");
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        if (string.IsNullOrWhiteSpace(outDir)) throw new UsageException("--out DIR is required (the folder to write the dataset into).");
        if (studies < 1) throw new UsageException($"--studies must be at least 1, got {studies}.");
        if (threads < 0) throw new UsageException($"--threads must be 0 (all processors) or more, got {threads}.");
        if (!force && Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new UsageException($"{outDir} is not empty; choose an empty folder or pass --force to write into it.");

        bool interactive = !Console.IsOutputRedirected;
        int lastPercent = -1;
        var options = new SynthOptions
        {
            Studies = studies,
            Seed = seed,
            Width = width,
            Height = height,
            Threads = threads,
            Force = force,
            Progress = (done, total) =>
            {
                int percent = (int)(100L * done / total);
                if (interactive) Console.Write($"\rwriting images {done}/{total} ({percent}%)");
                else if (percent / 25 != lastPercent / 25 || done == total) Console.WriteLine($"writing images {done}/{total} ({percent}%)");
                lastPercent = percent;
            },
        };
        Console.WriteLine($"mama synth: {studies} studies, {width}x{height} PNG, seed {seed} -> {Path.GetFullPath(outDir)}");
        var summary = SyntheticEmbed.Write(outDir, options);
        if (interactive) Console.WriteLine();

        var twoD = summary.Images.Where(i => i.ImageType == "2D").ToList();
        int kept = twoD.Count(i => !i.Skipped);
        Console.WriteLine($"wrote {summary.Images.Count} images ({twoD.Count} 2D, {summary.Images.Count - twoD.Count} cview) of {summary.Studies} studies, " +
                          $"{summary.Patients} patients, {summary.ClinicalRows} clinical rows in {summary.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"2D images a reader keeps: {kept}; skipped by the rules: {twoD.Count - kept} " +
                          $"({string.Join(", ", twoD.Where(i => i.Skipped).GroupBy(i => i.SkipReason).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"))})");
        Console.WriteLine("density (rendered) " + string.Join("  ", twoD.GroupBy(i => i.RenderedDensity).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count()}")) +
                          "; BI-RADS " + string.Join("  ", twoD.Where(i => i.Birads is not null).GroupBy(i => i.Birads!.Value).OrderBy(g => g.Key).Select(g => $"{"ANBPSMK"[g.Key]}:{g.Count()}")) +
                          $"; with mass {twoD.Count(i => i.HasMass)}, calcifications {twoD.Count(i => i.HasCalcification)}, asymmetry {twoD.Count(i => i.HasAsymmetry)}");
        Console.WriteLine($"tables: {Path.Combine(summary.Directory, "tables")}; ground truth: {Path.Combine(summary.Directory, SyntheticEmbed.TruthCsv)}");
        if (rsna)
        {
            string rsnaDir = Path.Combine(summary.Directory, "rsna");
            if (force && Directory.Exists(rsnaDir)) Directory.Delete(rsnaDir, recursive: true);
            SyntheticRsnaSummary view = SyntheticRsna.Write(summary, rsnaDir);
            Console.WriteLine($"RSNA-Mammo view: {view.Images} images of {view.Patients} patients, {view.Cancer} with cancer (BI-RADS M or K) -> {view.Directory}");
        }
        Console.WriteLine($"image paths: anon_dicom_path {SyntheticEmbed.PathPrefix}... is {Path.Combine(summary.Directory, SyntheticEmbed.ImagesFolder)}/... " +
                          "(the EMBED reader's default prefix rewrite; --path-prefix OLD=NEW to change)");
        return 0;
    }

    /// <summary>"256" (width; height = 1.25 x width, rounded) or "256x320".</summary>
    internal static (int Width, int Height) ParseSize(string? text)
    {
        if (text is null) return (256, 320);
        string[] parts = text.ToLowerInvariant().Split('x');
        if (parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            int w = int.Parse(parts[0], CultureInfo.InvariantCulture);
            int h = parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : (int)Math.Round(w * 1.25);
            if (w is >= 64 and <= 4096 && h is >= 64 and <= 4096) return (w, h);
            throw new UsageException($"--size must be 64-4096 pixels per side, got {w}x{h}.");
        }
        throw new UsageException($"--size expects a width (e.g. 256, height = 1.25 x width) or WIDTHxHEIGHT (e.g. 256x320), got '{text}'.");
    }
}
