using MaMA.Cli.Help;
using MaMA.Data.Splits;
using MaMA.Evaluation.Embedding;
using MaMA.Evaluation.ZeroShot;
using MaMA.Training.Runs;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama embed --model DIR (--images DIR | --csv FILE | --data DIR [--split S]) [--texts FILE]
/// --out FILE.safetensors [--patches] [--sentences] [--batch N] [--device D] [--seed N]</c>: exports
/// L2-normalised global image and/or text embeddings (optionally the local patch and sentence
/// embeddings) to one safetensors file, with the embedded file list, the skipped images and the
/// texts in its metadata (<see cref="EmbeddingExport"/>). --texts is a UTF-8 file with one text per
/// non-empty line; --seed creates the split file of --data on first use. An unreadable image is
/// skipped, counted and named, never fatal.
/// </summary>
internal static class EmbedCommand
{
    private static readonly string Usage = HelpTexts.Usage("embed");

    public static int Run(CommandLine cl)
    {
        string? model = cl.Get("model");
        string? images = cl.Get("images");
        string? csv = cl.Get("csv");
        string? data = cl.Get("data");
        string? splitName = cl.Get("split");
        string? texts = cl.Get("texts");
        string? output = cl.Get("out");
        bool patches = cl.Flag("patches");
        bool sentences = cl.Flag("sentences");
        int batch = EvalOptions.Batch(cl);
        ulong seed = EvalOptions.Seed(cl);
        Device device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'. {Usage}");
        if (model is null || output is null) throw new UsageException($"--model and --out are required. {Usage}");
        int sources = (images is null ? 0 : 1) + (csv is null ? 0 : 1) + (data is null ? 0 : 1);
        if (sources > 1) throw new UsageException("give one of --images, --csv and --data.");
        if (sources == 0 && texts is null) throw new UsageException($"nothing to embed: give --images, --csv or --data, and/or --texts. {Usage}");
        if (splitName is not null && data is null) throw new UsageException("--split applies to --data only.");
        if (patches && sources == 0) throw new UsageException("--patches needs images (--images, --csv or --data).");
        if (sentences && texts is null) throw new UsageException("--sentences needs --texts.");
        EvalOptions.RequireFolder(model, "--model", "a model folder with config.json and model.safetensors");
        if (images is not null) EvalOptions.RequireFolder(images, "--images", "a folder of DICOM, PNG or JPEG images");
        if (data is not null) EvalOptions.RequireFolder(data, "--data", "an EMBED-shaped folder");
        if (csv is not null && !File.Exists(csv)) throw new UsageException($"--csv {csv}: no such file (a CSV with a 'path' column).");
        if (texts is not null && !File.Exists(texts)) throw new UsageException($"--texts {texts}: no such file (one text per line).");
        DataSplit? split = splitName is null ? null : EvalOptions.Split(splitName);

        ImageList? list = images is not null ? ImageList.FromFolder(images)
            : csv is not null ? ImageList.FromCsv(csv)
            : data is not null ? ImageList.FromEmbed(data, split, seed)
            : null;
        string[] textList = texts is null ? [] : File.ReadAllLines(texts).Where(l => !string.IsNullOrWhiteSpace(l)).ToArray();
        if (list is not null) Console.WriteLine($"images: {list.Description}");
        if (texts is not null) Console.WriteLine($"texts: {textList.Length} from {Path.GetFullPath(texts)}");
        if ((list?.Paths.Count ?? 0) == 0 && textList.Length == 0) throw new InvalidDataException("nothing to embed: no image files and no texts found.");

        EvaluationModel evaluation = EvaluationModel.Load(model, device);
        var request = new EmbeddingRequest { Images = list, Texts = textList, Patches = patches, Sentences = sentences, BatchSize = batch };
        int total = (list?.Paths.Count ?? 0) + textList.Length;
        EmbeddingSummary summary = ProgressReporter.Run("embed", total, 0, progress =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int imageCount = list?.Paths.Count ?? 0;
            return EmbeddingExport.Write(evaluation, request, output, (what, done, count) =>
            {
                long step = what == "images" ? done : imageCount + done;
                progress.Update(step, $"{what} {done}/{count}", step / Math.Max(clock.Elapsed.TotalSeconds, 1e-9));
            });
        }, plainEvery: Math.Max(1, batch));

        EvalOptions.PrintSkipped(summary.Skipped, null);
        if (summary.TruncatedTexts > 0)
            Console.Error.WriteLine($"note: {summary.TruncatedTexts} text(s) were cut at {evaluation.MaxTextLength} tokens (their tail sentences are not embedded).");
        Console.WriteLine($"embedded {summary.Images} images ({summary.Skipped.Count} skipped) and {summary.Texts} texts, E {evaluation.Config.EmbedDim}");
        Console.WriteLine($"wrote {string.Join(", ", summary.Tensors)} to {summary.Path}");
        return 0;
    }
}
