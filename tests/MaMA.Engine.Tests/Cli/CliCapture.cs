namespace MaMA.Engine.Tests.Cli;

/// <summary>Runs `mama ARGS` in process with the console captured: exit code, standard output and standard error.</summary>
internal static class CliCapture
{
    public static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        TextWriter savedOut = Console.Out, savedError = Console.Error;
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            return (MaMA.Cli.Cli.Run(args), stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }
}
