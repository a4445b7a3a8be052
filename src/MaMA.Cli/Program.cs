using MaMA.Cli;
using MaMA.Cli.Commands;

// `mama`: the MaMA.Engine command line. Each command lives in Commands/ and documents itself in
// README.md. Errors a user can cause print one clear line (exit 2 for usage, 1 for failures).
return Cli.Run(args);

namespace MaMA.Cli
{
    internal static class Cli
    {
        private static readonly (string Name, string Summary, Func<CommandLine, int> Run)[] Commands =
        [
            ("demo", "the main job on built-in synthetic phantoms: MaMA pre-training with every loss, zero-shot density and BI-RADS, linear probes, report.json and plots", DemoCommand.Run),
            ("devices", "list the compute devices this machine offers", DevicesCommand.Run),
            ("prepare", "convert a folder of DICOM/PNG/JPEG mammograms to preprocessed 8-bit PNGs (long side 1024, padded)", PrepareCommand.Run),
            ("bench", "time the kernel families (bench ops), the paper's encoders (bench model) and one pre-training step (bench train), loading a model folder (bench load); --vs torch: against libtorch on this CPU", BenchCommand.Run),
            ("captions", "write the structured reports of an EMBED-shaped folder's split as JSON Lines", CaptionsCommand.Run),
            ("op", $"run one kernel-family op ({OpCommand.Names}) on named tensors from a safetensors file", OpCommand.Run),
            ("forward", "run a model folder (dinov2, gpt2, mama) in evaluation mode on named tensors: features, embeddings and, with a second view, every MaMA loss term", ForwardCommand.Run),
            ("synth", "write the built-in synthetic EMBED-shaped dataset (tables and PNG mammograms)", SynthCommand.Run),
            ("pretrain", "MaMA pre-training from a JSON config (configs/pretrain-tiny.json, pretrain-paper.json): run folder, metrics, checkpoints, --resume", PretrainCommand.Run),
            ("probe", "linear probing of a MaMA model's ViT on EMBED BI-RADS or density, or RSNA-Mammo cancer (--fraction 0.01|0.1|1): classifier + metrics", ProbeCommand.Run),
            ("finetune", "full fine-tuning of a MaMA model's ViT on EMBED BI-RADS or density, or RSNA-Mammo cancer: classifier + metrics", FinetuneCommand.Run),
            ("assemble", "the MaMA model pre-training starts from: a pre-trained DINOv2 and BioMedLM (model folders of `mama import`) with fresh LoRA, heads and token rows", AssembleCommand.Run),
            ("import", "convert a PyTorch / Hugging Face / Lightning / TorchSharp checkpoint into a model folder (config.json + model.safetensors)", ImportCommand.Run),
            ("metrics", "accuracy, balanced accuracy, AUC, confusion matrix and binary metrics of a scores CSV against a labels CSV (JSON + PNG plots)", MetricsCommand.Run),
            ("zeroshot", "zero-shot BI-RADS / density / RSNA cancer classification of a dataset split with instance prompts: scores, labels, metrics JSON, confusion and ROC PNGs", ZeroShotCommand.Run),
            ("embed", "export L2-normalised image and/or text embeddings (optionally patch / sentence) of a model folder to safetensors", EmbedCommand.Run),
            ("explain", "patch-sentence similarity heat-maps of the local alignment heads over a mammogram, one PNG per report sentence, with zero-shot scores", ExplainCommand.Run),
            ("golden", "record a model's named outputs for fixed inputs (golden record) or recompute and compare them on another engine or device (golden verify)", GoldenCommand.Run),
        ];

        public static int Run(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                PrintHelp();
                return args.Length == 0 ? 2 : 0;
            }
            var command = Commands.FirstOrDefault(c => c.Name == args[0]);
            if (command.Run is null)
            {
                Console.Error.WriteLine($"mama: unknown command '{args[0]}'. Run `mama --help` for the list.");
                return 2;
            }
            if (Help.CommandHelp.Requested(args) is { } help)
            {
                Console.WriteLine(help);
                return 0;
            }
            return RunCommand(command.Name, () => command.Run(new CommandLine(args.Skip(1))));
        }

        /// <summary>
        /// Runs one command: a usage error prints one line and exits 2; a failure the user can act on
        /// prints one line and exits 1. A device out-of-memory is such a failure also when it arrives
        /// wrapped by a fork-join (<see cref="AggregateException"/>), reflection
        /// (<see cref="System.Reflection.TargetInvocationException"/>) or a type initializer.
        /// </summary>
        internal static int RunCommand(string name, Func<int> run)
        {
            try
            {
                return run();
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"mama {name}: {e.Message}");
                return 2;
            }
            catch (Exception e) when (ActionableMessage(e) is { } message)
            {
                Console.Error.WriteLine($"mama {name}: {message}");
                return 1;
            }
        }

        /// <summary>
        /// The one line that explains a failure the user can act on (bad input, a file problem, a
        /// wrong setting, the device's memory, a size past one array), or null for anything else: an engine defect, which
        /// keeps its stack trace. Also used for the ranks of a multi-rank run.
        /// </summary>
        internal static string? ActionableMessage(Exception e) =>
            e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or InvalidOperationException
                or MaMA.Engine.Memory.DeviceOutOfMemoryException
                ? e.Message
                : OutOfMemoryInside(e)?.Message ?? TooLargeMessage(e);

        /// <summary>
        /// A size past what one array holds (the commands check their own sizes up front; this is the
        /// net for the rest), also inside the wrappers <see cref="OutOfMemoryInside"/> looks through:
        /// one line with the limit instead of a stack trace; else null.
        /// </summary>
        private static string? TooLargeMessage(Exception e) =>
            Inside<OverflowException>(e) is { } overflow
                ? $"a size is too large ({overflow.Message}): a tensor's array holds at most {Array.MaxLength} elements (just under 2^31); use smaller sizes (batch, image size)."
                : null;

        /// <summary>
        /// The device out-of-memory error <paramref name="e"/> stands for: itself, the inner exception of
        /// a reflection or type-initializer wrapper, or the first of an aggregate whose exceptions are
        /// all out-of-memory errors; else null.
        /// </summary>
        internal static MaMA.Engine.Memory.DeviceOutOfMemoryException? OutOfMemoryInside(Exception? e) => Inside<MaMA.Engine.Memory.DeviceOutOfMemoryException>(e);

        /// <summary>
        /// The <typeparamref name="T"/> that <paramref name="e"/> stands for: itself, the inner exception
        /// of a reflection or type-initializer wrapper, or the first of an aggregate whose exceptions
        /// all are such; else null.
        /// </summary>
        private static T? Inside<T>(Exception? e) where T : Exception
        {
            for (int depth = 0; depth < 16 && e is not null; depth++)
            {
                switch (e)
                {
                    case T found:
                        return found;
                    case System.Reflection.TargetInvocationException or TypeInitializationException:
                        e = e.InnerException;
                        break;
                    case AggregateException aggregate:
                        T? first = null;
                        foreach (Exception inner in aggregate.Flatten().InnerExceptions)
                        {
                            T? found = Inside<T>(inner);
                            if (found is null) return null;
                            first ??= found;
                        }
                        return first;
                    default:
                        return null;
                }
            }
            return null;
        }

        private static void PrintHelp()
        {
            Console.WriteLine("mama — MaMA.Engine: mammography vision-language pre-training engine");
            Console.WriteLine();
            Console.WriteLine("usage: mama <command> [options]");
            Console.WriteLine();
            foreach (var c in Commands) Console.WriteLine($"  {c.Name,-10} {c.Summary}");
            Console.WriteLine();
            // Which commands take --device, from their help texts (synth, metrics, captions, import, prepare and devices do not).
            string[] withDevice = Commands.Select(c => c.Name)
                .Where(n => Help.HelpTexts.All.Any(h => (h.Key == n || h.Key.StartsWith(n + " ", StringComparison.Ordinal)) && h.Value.Contains("\n  --device ", StringComparison.Ordinal)))
                .ToArray();
            Console.WriteLine("--device auto|cuda|cuda:K|opencl|cpu|ilgpu-cpu (default auto; cuda:K is the K-th CUDA card) picks where to compute;");
            Console.WriteLine($"  taken by {string.Join(", ", withDevice)}.");
            Console.WriteLine("On/off flags (--quick, --force, --resume, ...) are given alone, or as --FLAG true|false.");
            Console.WriteLine("`mama COMMAND --help` (or -h) explains a command and its options.");
        }
    }
}
