using System.Globalization;
using MaMA.Data;
using MaMA.Data.Embed;
using MaMA.Data.Reports;
using MaMA.Data.Splits;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama captions --embed DIR --split train|valid|test --out FILE.jsonl [--mask-meta P
/// [--mask-ratio R] --seed S --epoch N] [--splits FILE --split-seed N] [--path-prefix OLD=NEW]</c>:
/// reads an EMBED-shaped folder, assigns patients to splits (the split file is created once and read
/// back afterwards) and writes one JSON object per kept image of the split (see
/// <see cref="EmbedCaptions"/>), atomically, then a summary of kept and skipped rows.
/// </summary>
internal static class CaptionsCommand
{
    private const int ProblemsShown = 10;

    public static int Run(CommandLine cl)
    {
        string? embed = cl.Get("embed");
        string? splitName = cl.Get("split");
        string? outPath = cl.Get("out");
        string? maskMetaText = cl.Get("mask-meta");
        string? maskRatioText = cl.Get("mask-ratio");
        int seed = cl.GetInt("seed", 0);
        int epoch = cl.GetInt("epoch", 0);
        string? splitsPath = cl.Get("splits");
        int splitSeed = cl.GetInt("split-seed", 0);
        string? prefixText = cl.Get("path-prefix");
        cl.RejectUnknown();

        if (embed is null) throw new UsageException("--embed DIR is required (an EMBED-shaped folder with tables/).");
        EvalOptions.RequireFolder(embed, "--embed", "an EMBED-shaped folder with tables/");
        if (outPath is null) throw new UsageException("--out FILE.jsonl is required.");
        DataSplit split = DataSplitNames.Parse(splitName)
            ?? throw new UsageException(splitName is null ? "--split train|valid|test is required." : $"--split expects train, valid or test, got '{splitName}'.");
        if (maskRatioText is not null && maskMetaText is null) throw new UsageException("--mask-ratio needs --mask-meta.");
        MetaMasking? masking = null;
        if (maskMetaText is not null)
        {
            double maskMeta = Probability("mask-meta", maskMetaText);
            double maskRatio = maskRatioText is null ? 1.0 : Probability("mask-ratio", maskRatioText);
            masking = new MetaMasking(maskRatio, maskMeta, unchecked((ulong)seed));
        }
        var options = new EmbedOptions();
        if (prefixText is not null)
        {
            int eq = prefixText.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--path-prefix expects OLD=NEW, got '{prefixText}'.");
            options = options with { PathPrefixes = [PathPrefix.Parse(prefixText)] };
        }

        EmbedDataset data = EmbedDataset.Load(embed, options);
        string splitsFile = splitsPath ?? Path.Combine(data.Directory, DatasetLayout.SplitsCsv);
        bool existed = File.Exists(splitsFile);
        PatientSplits splits = data.LoadOrCreateSplits(splitsFile, unchecked((ulong)splitSeed));
        IReadOnlyList<EmbedRecord> records = data.InSplit(splits, split);
        EmbedCaptions.Write(outPath, records, masking, epoch);

        foreach ((string file, var problem) in data.Summary.CsvProblems.Take(ProblemsShown))
            Console.Error.WriteLine($"warning: {file}: {problem}");
        if (data.Summary.CsvProblems.Count > ProblemsShown)
            Console.Error.WriteLine($"warning: ... and {data.Summary.CsvProblems.Count - ProblemsShown} more CSV problems");

        Console.WriteLine($"splits: {splitsFile} ({(existed ? "read" : $"created with seed {splitSeed}")}): "
                          + $"train {splits.Count(DataSplit.Train)}, valid {splits.Count(DataSplit.Valid)}, test {splits.Count(DataSplit.Test)} patients");
        foreach (string line in data.Summary.Lines()) Console.WriteLine(line);
        string maskText = masking is null
            ? "unmasked"
            : $"masked (mask_meta {masking.MaskMeta.ToString(CultureInfo.InvariantCulture)}, mask_ratio {masking.MaskRatio.ToString(CultureInfo.InvariantCulture)}, seed {seed}, epoch {epoch})";
        Console.WriteLine($"wrote {records.Count} {split.Name()} captions ({maskText}) to {outPath}");
        return 0;
    }

    private static double Probability(string name, string text)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) || !(p >= 0 && p <= 1))
            throw new UsageException($"--{name} expects a probability between 0 and 1, got '{text}'.");
        return p;
    }
}
