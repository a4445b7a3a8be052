using MaMA.Data.Images;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama prepare --in DIR --out DIR [--size 1024] [--workers N] [--no-pad] [--max-megapixels 100]</c>:
/// converts every DICOM, PNG and JPEG under DIR (recursively) to a preprocessed 8-bit grey PNG at the
/// same relative path (SPEC section 2: scale to 8 bits by 255/max, invert MONOCHROME1, long side to
/// SIZE with area interpolation, centred zero padding to a square). Prints progress lines (count,
/// rate, ETA) and a summary; resumes by skipping complete outputs; unreadable inputs are reported,
/// counted and skipped (see <see cref="PrepareFolder"/>). Exit 0 when the run finished, also with
/// unreadable inputs; 2 for usage mistakes; 1 when an output cannot be written.
/// </summary>
internal static class PrepareCommand
{
    public static int Run(CommandLine cl) => Run(cl, Console.Out);

    internal static int Run(CommandLine cl, TextWriter log)
    {
        string? input = cl.Get("in");
        string? output = cl.Get("out");
        int size = cl.GetInt("size", Preprocessing.DefaultSize);
        int workers = cl.GetInt("workers", Math.Min(Environment.ProcessorCount, 8));
        bool noPad = cl.Flag("no-pad");
        int megapixels = cl.GetInt("max-megapixels", (int)(ImageReadOptions.DefaultMaxPixels / 1_000_000));
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'. {Help.HelpTexts.Usage("prepare")}");
        if (string.IsNullOrEmpty(input) || string.IsNullOrEmpty(output)) throw new UsageException($"--in DIR and --out DIR are required. {Help.HelpTexts.Usage("prepare")}");
        if (!Directory.Exists(input)) throw new UsageException($"--in {input}: no such folder.");
        if (size < 16 || size > 16384) throw new UsageException($"--size must be 16..16384, got {size}.");
        if (workers < 1 || workers > 256) throw new UsageException($"--workers must be 1..256, got {workers}.");
        if (megapixels < 1) throw new UsageException($"--max-megapixels must be at least 1, got {megapixels}.");
        if (Path.TrimEndingDirectorySeparator(Path.GetFullPath(input)) == Path.TrimEndingDirectorySeparator(Path.GetFullPath(output)))
            throw new UsageException("--out must differ from --in.");

        var options = new PrepareOptions
        {
            InputDir = input,
            OutputDir = output,
            Size = size,
            Pad = !noPad,
            Workers = workers,
            Read = ImageReadOptions.Default with { MaxPixels = megapixels * 1_000_000L },
        };
        PrepareFolder.Run(options, log);
        return 0;
    }
}
