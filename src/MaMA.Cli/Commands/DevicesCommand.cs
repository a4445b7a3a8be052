using MaMA.Engine.Devices;

namespace MaMA.Cli.Commands;

/// <summary><c>mama devices</c>: what <c>--device</c> can name here, and what <c>auto</c> picks.</summary>
internal static class DevicesCommand
{
    public static int Run(CommandLine cl)
    {
        cl.RejectUnknown();
        foreach (string d in Device.Available()) Console.WriteLine(d);
        Console.WriteLine($"auto -> {Device.Parse("auto").Name}");
        return 0;
    }
}
