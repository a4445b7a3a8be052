using MaMA.Engine.Devices;

namespace MaMA.Cli.Commands;

/// <summary>The shared <c>--device</c> option.</summary>
internal static class DeviceOption
{
    public static Device Read(CommandLine cl)
    {
        string spec = cl.Get("device", "auto");
        try
        {
            return Device.Parse(spec);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
