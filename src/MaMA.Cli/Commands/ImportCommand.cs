#if MAMA_TORCH
using MaMA.Interop.Torch.Import;
using MaMA.Model.Checkpoints;
#endif

namespace MaMA.Cli.Commands;

/// <summary>
/// <c>mama import --from FILE_OR_DIR --arch dinov2|gpt2|mama --out DIR [--adapter PEFT_DIR]
/// [--dtype float32|bfloat16|float16] [--config FILE]</c>: converts a PyTorch / Hugging Face /
/// Lightning / TorchSharp checkpoint into our model folder (config.json + model.safetensors,
/// see docs/checkpoints.md), checking every key and shape and loading the result strictly before
/// it is renamed into place. Import lives in MaMA.Interop.Torch, so the torch-less single-file
/// publish (-p:MamaWithTorch=false) does not have it.
/// </summary>
internal static class ImportCommand
{
    private static readonly string Usage = Help.HelpTexts.Usage("import");

    public static int Run(CommandLine cl)
    {
        string? from = cl.Get("from");
        string? arch = cl.Get("arch");
        string? output = cl.Get("out");
        string? adapter = cl.Get("adapter");
        string? dtype = cl.Get("dtype");
        string? config = cl.Get("config");
        cl.RejectUnknown();
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'. {Usage}");
        if (from is null || arch is null || output is null) throw new UsageException($"--from, --arch and --out are required. {Usage}");
#if MAMA_TORCH
        ModelArch parsedArch = arch switch
        {
            "dinov2" => ModelArch.Dinov2,
            "gpt2" => ModelArch.Gpt2,
            "mama" => ModelArch.Mama,
            _ => throw new UsageException($"--arch takes dinov2, gpt2 or mama, not '{arch}'."),
        };
        Engine.Tensors.DType? floatDType;
        try
        {
            floatDType = dtype is null ? null : ModelDirectory.ParseDType(dtype);
        }
        catch (ArgumentException e)
        {
            throw new UsageException("--dtype: " + e.Message);
        }
        if (!File.Exists(from) && !Directory.Exists(from)) throw new UsageException($"--from {from}: no such file or folder.");
        if (adapter is not null && !Directory.Exists(adapter)) throw new UsageException($"--adapter {adapter}: no such folder (a PEFT save_pretrained folder).");
        if (config is not null && !File.Exists(config)) throw new UsageException($"--config {config}: no such file.");
        ImportResult result = CheckpointImporter.Run(new ImportRequest(from, parsedArch, output, adapter, floatDType, config), Console.Out);
        Console.WriteLine($"imported {result.Tensors} tensors ({result.Bytes / 1e6:F1} MB) as {arch} into {Path.GetFullPath(output)}");
        return 0;
#else
        _ = (adapter, dtype, config);
        throw new UsageException("import reads PyTorch checkpoints through MaMA.Interop.Torch, which this mama was built without (-p:MamaWithTorch=false). "
                                 + "Import on a machine with the source build (`dotnet run --project src/MaMA.Cli -c Release -- import ...`) and copy the model folder here.");
#endif
    }
}
