using MaMA.Engine.Devices;

namespace MaMA.Cli.Commands;

/// <summary><c>mama devices</c>: what <c>--device</c> can name here, and what <c>auto</c> picks.</summary>
internal static class DevicesCommand
{
    public static int Run(CommandLine cl)
    {
        cl.RejectUnknown();
        // It takes nothing: a word after it would otherwise be ignored without a sign.
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'; `mama devices` takes no arguments.");
        foreach (string d in Device.Available()) Console.WriteLine(d);
        Console.WriteLine($"auto -> {Device.Parse("auto").Name}");
        // Plain GEMMs on CUDA go to cuBLAS when it loads (MaMA.Kernels.Linear.CuBlas); say which, or why not.
        if (Device.Available().Any(d => d.StartsWith("cuda", StringComparison.Ordinal)))
            Console.WriteLine($"cublas: {MaMA.Kernels.Linear.CuBlas.Status}");
        return 0;
    }
}
