namespace MaMA.Cli.Commands;

/// <summary><c>mama finetune ...</c>: the options of <c>mama probe</c> with the ViT trainable (full fine-tuning, SPEC section 7).</summary>
internal static class FinetuneCommand
{
    public static int Run(CommandLine cl) => ProbeCommand.Run(cl, fineTune: true);
}
