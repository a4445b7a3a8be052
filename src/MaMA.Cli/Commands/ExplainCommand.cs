using System.Globalization;
using MaMA.Cli.Help;
using MaMA.Data.Labels;
using MaMA.Evaluation.Explain;
using MaMA.Evaluation.ZeroShot;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama explain --model DIR --image FILE [--report TEXT | --report-file FILE] --out DIR
/// [--task density|birads|rsna] [--size N] [--device D]</c>: one heat-map PNG per report sentence
/// (the local alignment heads' patch-sentence similarity over the mammogram), an index
/// (index.json, index.csv: sentence -> file) and the image's zero-shot class scores
/// (<see cref="Explainer"/>). Without a report the task's zero-shot prompts are the sentences.
/// </summary>
internal static class ExplainCommand
{
    private static readonly string Usage = HelpTexts.Usage("explain");

    public static int Run(CommandLine cl)
    {
        string? model = cl.Get("model");
        string? image = cl.Get("image");
        string? report = cl.Get("report");
        string? reportFile = cl.Get("report-file");
        string? output = cl.Get("out");
        string taskName = cl.Get("task", "density");
        int size = cl.GetInt("size", 800);
        Device device = DeviceOption.Read(cl);
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'. {Usage}");
        if (model is null || image is null || output is null) throw new UsageException($"--model, --image and --out are required. {Usage}");
        if (report is not null && reportFile is not null) throw new UsageException("give --report or --report-file, not both.");
        DownstreamTask task = DownstreamTasks.Parse(taskName) ?? throw new UsageException($"--task takes density, birads or rsna, not '{taskName}'.");
        if (size is < 100 or > 4000) throw new UsageException($"--size is the PNG side in pixels, 100-4000; got {size}.");
        EvalOptions.RequireFolder(model, "--model", "a model folder with config.json and model.safetensors");
        if (!File.Exists(image)) throw new UsageException($"--image {image}: no such file.");
        if (reportFile is not null)
        {
            if (!File.Exists(reportFile)) throw new UsageException($"--report-file {reportFile}: no such file.");
            report = File.ReadAllText(reportFile).Replace('\r', ' ').Replace('\n', ' ');
        }
        if (report is not null && ReportSentences.Split(report).Count == 0)
            throw new UsageException($"{(reportFile is null ? "--report" : $"--report-file {reportFile}")} has no sentence: sentences end at '.' or ';' (each becomes a SEP token).");

        EvaluationModel evaluation = EvaluationModel.Load(model, device);
        ExplainResult result = Explainer.Run(evaluation, image, report, task, output, size, size);
        Console.WriteLine(report is null
            ? $"no report: explaining the {result.Sentences.Count} {task.Name()} zero-shot prompts"
            : $"{result.Sentences.Count} sentences of the report");
        foreach (ExplainedSentence s in result.Sentences)
            Console.WriteLine($"  {s.File}  [{F(s.Min)}, {F(s.Max)}]  {s.Text}");
        Console.WriteLine($"zero-shot {task.Name()}:");
        for (int c = 0; c < result.ClassNames.Count; c++)
            Console.WriteLine($"  {result.ClassNames[c],-16} {result.Probabilities[c].ToString("F4", CultureInfo.InvariantCulture)}{(c == result.Prediction ? "  <- predicted" : "")}");
        Console.WriteLine($"wrote {result.Sentences.Count} heat-maps, {Path.GetFileName(result.IndexJson)} and {Path.GetFileName(result.IndexCsv)} to {result.Directory}");
        return 0;
    }

    private static string F(float v) => v.ToString("F3", CultureInfo.InvariantCulture);
}
