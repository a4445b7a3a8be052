using MaMA.Interop.Torch.Parity;

namespace MaMA.Engine.Tests.Families;

/// <summary>What the <c>mama op</c> tests share: seeded inputs and running the command with its stderr captured.</summary>
internal static class OpCommandHarness
{
    /// <summary><paramref name="count"/> values from N(0, 1), reproducible from <paramref name="seed"/>.</summary>
    public static float[] Normal(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => OpData.Normal(rng)).ToArray();
    }

    /// <summary>Runs <c>mama op OP --in INPUT --out OUTPUT [--backward] --device DEVICE</c>; returns the exit code.</summary>
    public static int RunOp(string op, string input, string output, bool backward, out string stderr, string device = "cpu")
    {
        var error = new StringWriter();
        TextWriter saved = Console.Error;
        Console.SetError(error);
        try
        {
            string[] args = backward
                ? ["op", op, "--in", input, "--out", output, "--backward", "--device", device]
                : ["op", op, "--in", input, "--out", output, "--device", device];
            return MaMA.Cli.Cli.Run(args);
        }
        finally
        {
            Console.SetError(saved);
            stderr = error.ToString();
        }
    }
}
