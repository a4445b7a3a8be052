using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;
using MaMA.Training.Pretraining;

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama assemble --vision DINOV2_DIR --text GPT2_DIR --out DIR [--seed N] [--dtype float32|bfloat16|float16]</c>:
/// the MaMA model the published pre-training starts from, made of a pre-trained DINOv2 ViT and a
/// pre-trained BioMedLM (both model folders of <c>mama import</c>) with fresh LoRA adapters, heads and
/// scales and the six MaMA token rows (<see cref="MaMAAssembler"/>; docs/checkpoints.md). Needs no
/// TorchSharp, so the single-file GPU build has it too.
/// </summary>
internal static class AssembleCommand
{
    public static int Run(CommandLine cl)
    {
        string? vision = cl.Get("vision");
        string? text = cl.Get("text");
        string? output = cl.Get("out");
        string? dtype = cl.Get("dtype");
        ulong seed = EvalOptions.Seed(cl);
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        if (vision is null || text is null || output is null) throw new UsageException("--vision, --text and --out are required.");
        DType? floatDType;
        try
        {
            floatDType = dtype is null ? null : ModelDirectory.ParseDType(dtype);
        }
        catch (ArgumentException e)
        {
            throw new UsageException("--dtype: " + e.Message);
        }
        if (!Directory.Exists(vision)) throw new UsageException($"--vision {vision}: no such folder (a DINOv2 model folder from `mama import --arch dinov2`).");
        if (!Directory.Exists(text)) throw new UsageException($"--text {text}: no such folder (a BioMedLM model folder from `mama import --arch gpt2`).");

        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() && !File.Exists(Path.Combine(output, ModelConfigFile.FileName)))
            throw new UsageException($"--out {output}: exists and is not a model folder; choose another --out or empty it.");

        Console.WriteLine($"mama assemble: {Path.GetFullPath(vision)} + {Path.GetFullPath(text)} -> {Path.GetFullPath(output)}");
        AssembleResult result;
        try
        {
            result = MaMAAssembler.Assemble(new AssembleRequest(vision, text, output, seed, floatDType), Console.Out);
        }
        catch (ArgumentException e)
        {
            // The folders given do not fit together (swapped, LoRA already in, no tokenizer, --out an input): a usage mistake.
            throw new UsageException(e.Message);
        }
        MaMA.Model.MaMA.MaMAConfig mama = result.Config.Mama!;
        Console.WriteLine($"wrote {Path.GetFullPath(output)}: {result.Tensors} tensors ({result.Config.Dtype}), vocabulary {mama.Text.VocabSize} " +
                          $"({result.NewTokenRows} new token rows), SEP {mama.SepTokenId}, PAD {mama.PadTokenId}, sha256 {result.Config.WeightsSha256![..12]}...");
        Console.WriteLine($"pre-train from it: \"model\": \"{output}\" in the config (configs/pretrain-paper.json)");
        return 0;
    }
}
