using MaMA.Data.Synthetic;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;

namespace MaMA.Evaluation.Tests.ZeroShot;

/// <summary>
/// Made once per test run and shared (read-only) by the evaluation-command tests: a tiny randomly
/// initialised MaMA model folder (<see cref="MaMAConfig.Tiny"/>: 42x42 images, E 32, built-in GPT-2
/// tokenizer) and a small synthetic EMBED folder (8 studies, 64x80 PNGs). Deleted when the test
/// process exits.
/// </summary>
internal static class EvalTestData
{
    private static readonly Lazy<string> Root = new(() =>
    {
        string root = Directory.CreateTempSubdirectory("mama-eval-cmd-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: the temp folder is cleaned by the system otherwise.
            }
        };
        return root;
    });

    private static readonly Lazy<string> ModelFolder = new(() => SaveModel("model", seed: 3));

    private static readonly Lazy<string> DataFolder = new(() =>
    {
        string dir = Path.Combine(Root.Value, "synth");
        SyntheticEmbed.Write(dir, new SynthOptions { Studies = 8, Seed = 5, Width = 64, Height = 80 });
        return dir;
    });

    public static MaMAConfig Config => MaMAConfig.Tiny;

    /// <summary>The shared tiny model folder.</summary>
    public static string Model => ModelFolder.Value;

    /// <summary>The shared synthetic EMBED folder.</summary>
    public static string Data => DataFolder.Value;

    /// <summary>A fresh folder under the run's temp root.</summary>
    public static string NewDir(string name) => Directory.CreateDirectory(Path.Combine(Root.Value, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    /// <summary>Saves a tiny MaMA model (weights from <paramref name="seed"/>, optionally changed) as a model folder.</summary>
    public static string SaveModel(string name, int seed, Action<MaMAModel>? change = null)
    {
        var model = new MaMAModel(Config, new Random(seed));
        change?.Invoke(model);
        string dir = Path.Combine(Root.Value, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        ModelDirectory.Save(dir, ModelConfigFile.ForMaMA(Config), model.StateDict());
        return dir;
    }

    /// <summary>Runs <c>mama</c> in process, capturing stdout and stderr.</summary>
    public static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        TextWriter savedOut = Console.Out, savedError = Console.Error;
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            return (global::MaMA.Cli.Cli.Run(args), output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }
}
