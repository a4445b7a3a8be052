using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// The JSON a benchmark run writes (snake_case): where it ran, how, and its rows. tools/device_bench.py
/// reads it to merge the engine's numbers with PyTorch's on the same card.
/// </summary>
/// <param name="Device">Engine device name (cpu, cuda: NAME, ...).</param>
/// <param name="Torch">libtorch version when it was timed in the same process, else null.</param>
/// <param name="Shapes">paper or quick for the family cases; null for other case lists.</param>
/// <param name="EngineVersion">The engine assembly's informational version (version+commit when built from git).</param>
public sealed record BenchReport(
    string Device,
    string? Torch,
    int? TorchThreads,
    int Repeat,
    string? Shapes,
    string Date,
    string EngineVersion,
    IReadOnlyList<BenchResult> Rows)
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // "0.1.0+abc", not "0.1.0\u002Babc"
    };

    /// <summary>A report dated today (UTC), with this build's engine version.</summary>
    public static BenchReport Create(string device, string? torch, int? torchThreads, int repeat, BenchShapes? shapes, IReadOnlyList<BenchResult> rows) =>
        new(device, torch, torchThreads, repeat, shapes?.ToOption(), DateTime.UtcNow.ToString("yyyy-MM-dd"), CurrentEngineVersion(), rows);

    public static string CurrentEngineVersion() =>
        typeof(Tensor).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Writes the report to <paramref name="path"/> through a temporary file, so a failed run leaves no half-written JSON.</summary>
    public void Write(string path)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, JsonOptions));
        File.Move(tmp, path, overwrite: true);
    }
}
