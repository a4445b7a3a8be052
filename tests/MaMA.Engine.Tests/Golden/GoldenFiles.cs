using System.Runtime.CompilerServices;
using System.Text.Json;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Tests.Golden;

/// <summary>One input of a manifest entry.</summary>
internal sealed record GoldenInput(int[] Shape, string DType);

/// <summary>One case of golden/ops/manifest.json (see golden/README.md).</summary>
internal sealed record GoldenEntry(
    string Name, string File, IReadOnlyDictionary<string, GoldenInput> Inputs, int[] OutputShape, string DType,
    double Tolerance, double GradTolerance, string Sha256);

/// <summary>golden/ops/manifest.json. <see cref="Cases"/> is empty when <see cref="Format"/> is not the expected one.</summary>
internal sealed record GoldenManifest(int Format, string Generator, string Torch, int Seed, IReadOnlyDictionary<string, GoldenEntry> Cases);

/// <summary>The values stored in one golden file, in the shapes the engine needs.</summary>
internal sealed class GoldenCaseData
{
    /// <summary>One array per <see cref="OpCase.Inputs"/> entry: float[] or long[].</summary>
    public required IReadOnlyList<Array> Inputs { get; init; }

    /// <summary>The upstream gradient; null when the case has no differentiable input.</summary>
    public required float[]? GradOut { get; init; }

    /// <summary>The reference output and input gradients.</summary>
    public required OpResult Expected { get; init; }
}

/// <summary>
/// Locates and reads the golden files written by tools/MaMA.GoldenGen. Read-only: tests never
/// write goldens.
/// </summary>
internal static class GoldenFiles
{
    /// <summary>The manifest format these tests understand.</summary>
    public const int ExpectedFormat = 1;

    public const string Regenerate = "golden files are out of date: run `dotnet run --project tools/MaMA.GoldenGen -- ops`";

    private static readonly Lazy<(GoldenManifest? Manifest, string? Error)> Cached = new(Read);

    /// <summary>golden/ops in the repository.</summary>
    public static string OpsDir => Path.Combine(RepoRoot(), "golden", "ops");

    public static string ManifestPath => Path.Combine(OpsDir, "manifest.json");

    /// <summary>The folder holding MaMA.Engine.sln (<see cref="MaMA.Tests.Shared.RepositoryRoot"/>).</summary>
    public static string RepoRoot([CallerFilePath] string sourceFile = "") => MaMA.Tests.Shared.RepositoryRoot.Find(sourceFile);

    /// <summary>The manifest, or null with the reason it cannot be read.</summary>
    public static (GoldenManifest? Manifest, string? Error) TryManifest() => Cached.Value;

    /// <summary>The manifest in the expected format; fails the test with the regenerate message otherwise.</summary>
    public static GoldenManifest Manifest()
    {
        (GoldenManifest? m, string? error) = Cached.Value;
        if (m is null) Assert.Fail($"{error}\n{Regenerate}");
        if (m!.Format != ExpectedFormat) Assert.Fail($"golden/ops/manifest.json has format {m.Format}, these tests read format {ExpectedFormat}.\n{Regenerate}");
        return m;
    }

    private static (GoldenManifest?, string?) Read()
    {
        string path = ManifestPath;
        if (!File.Exists(path)) return (null, $"{path} does not exist.");
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = doc.RootElement;
            int format = root.GetProperty("format").GetInt32();
            var cases = new Dictionary<string, GoldenEntry>(StringComparer.Ordinal);
            if (format != ExpectedFormat) return (new GoldenManifest(format, "", "", 0, cases), null);
            foreach (JsonProperty p in root.GetProperty("cases").EnumerateObject())
            {
                JsonElement c = p.Value;
                var inputs = new Dictionary<string, GoldenInput>(StringComparer.Ordinal);
                foreach (JsonProperty i in c.GetProperty("inputs").EnumerateObject())
                    inputs[i.Name] = new GoldenInput(ReadShape(i.Value.GetProperty("shape")), i.Value.GetProperty("dtype").GetString()!);
                cases[p.Name] = new GoldenEntry(p.Name, c.GetProperty("file").GetString()!, inputs, ReadShape(c.GetProperty("output_shape")),
                    c.GetProperty("dtype").GetString()!, c.GetProperty("tolerance").GetDouble(), c.GetProperty("grad_tolerance").GetDouble(),
                    c.GetProperty("sha256").GetString()!);
            }
            return (new GoldenManifest(format, root.GetProperty("generator").GetString()!, root.GetProperty("torch").GetString()!,
                root.GetProperty("seed").GetInt32(), cases), null);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return (null, $"{path} cannot be read ({e.Message}).");
        }
    }

    private static int[] ReadShape(JsonElement e) => e.EnumerateArray().Select(d => d.GetInt32()).ToArray();

    /// <summary>The dtype a golden file stores for an input.</summary>
    public static string DTypeOf(OpInput input) => input.Kind == InputKind.Index ? "I64" : "F32";

    /// <summary>Why an entry no longer describes the catalog's case (empty when it does).</summary>
    public static List<string> Staleness(GoldenEntry e, OpCase c)
    {
        var why = new List<string>();
        if (e.File != c.Name + ".safetensors") why.Add($"file '{e.File}'");
        string[] names = c.Inputs.Select(i => i.Name).ToArray();
        if (!e.Inputs.Keys.Order(StringComparer.Ordinal).SequenceEqual(names.Order(StringComparer.Ordinal)))
            why.Add($"inputs [{string.Join(", ", e.Inputs.Keys)}] vs catalog [{string.Join(", ", names)}]");
        else
            foreach (OpInput i in c.Inputs)
            {
                GoldenInput g = e.Inputs[i.Name];
                if (!g.Shape.SequenceEqual(i.Shape)) why.Add($"input '{i.Name}' shape {Shape.Format(g.Shape)} vs catalog {Shape.Format(i.Shape)}");
                if (g.DType != DTypeOf(i)) why.Add($"input '{i.Name}' dtype {g.DType} vs catalog {DTypeOf(i)}");
            }
        if (e.DType != "F32") why.Add($"output dtype {e.DType}");
        if (e.Tolerance != c.Tolerance) why.Add($"tolerance {e.Tolerance:G} vs catalog {c.Tolerance:G}");
        if (e.GradTolerance != c.GradTolerance) why.Add($"grad_tolerance {e.GradTolerance:G} vs catalog {c.GradTolerance:G}");
        return why;
    }

    /// <summary>
    /// Inputs whose stored values differ from what <see cref="OpData.Generate"/> draws for the case
    /// from <paramref name="seed"/> today (an input's kind or index range changed since generation).
    /// </summary>
    public static List<string> InputDrift(GoldenEntry e, OpCase c, int seed)
    {
        GoldenCaseData golden = Load(e, c);
        OpData now = OpData.Generate(c, seed);
        var drift = new List<string>();
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            bool same = golden.Inputs[i] switch
            {
                long[] ids => now.Indices[i] is { } n && ids.SequenceEqual(n),
                float[] values => now.Floats[i] is { } n && values.SequenceEqual(n),
                _ => false,
            };
            if (!same) drift.Add($"input '{c.Inputs[i].Name}' values differ from OpData.Generate(seed {seed})");
        }
        return drift;
    }

    /// <summary>
    /// Reads one case's file, checking that it holds exactly the tensors the catalog case implies
    /// (in.{input}, out, and grad_out plus grad.{input} for the differentiable inputs).
    /// </summary>
    public static GoldenCaseData Load(GoldenEntry e, OpCase c)
    {
        string path = Path.Combine(OpsDir, e.File);
        if (!File.Exists(path)) Assert.Fail($"{c.Name}: {path} is missing.\n{Regenerate}");
        using SafetensorsFile file = Safetensors.Open(path);
        OpInput[] differentiable = c.Inputs.Where(i => i.Differentiable).ToArray();
        var expectedNames = c.Inputs.Select(i => "in." + i.Name).Append("out")
            .Concat(differentiable.Length > 0 ? differentiable.Select(i => "grad." + i.Name).Append("grad_out") : [])
            .Order(StringComparer.Ordinal).ToArray();
        string[] names = file.Names.Order(StringComparer.Ordinal).ToArray();
        if (!names.SequenceEqual(expectedNames))
            Assert.Fail($"{c.Name}: {e.File} holds [{string.Join(", ", names)}]; the catalog case needs [{string.Join(", ", expectedNames)}].\n{Regenerate}");

        T[] Read<T>(string name, int[] shape) where T : unmanaged
        {
            SafetensorsEntry entry = file.Entries[name];
            if (entry.DType != DTypeExtensions.Of<T>() || !entry.Shape.SequenceEqual(shape))
                Assert.Fail($"{c.Name}: '{name}' in {e.File} is {entry.DType.SafetensorsName()} {Shape.Format(entry.Shape)}, " +
                    $"expected {DTypeExtensions.Of<T>().SafetensorsName()} {Shape.Format(shape)}.\n{Regenerate}");
            using Tensor t = file.Load(name, Device.Cpu);
            return t.ToArray<T>();
        }

        var inputs = c.Inputs.Select(i => i.Kind == InputKind.Index ? (Array)Read<long>("in." + i.Name, i.Shape) : Read<float>("in." + i.Name, i.Shape)).ToList();
        float[] output = Read<float>("out", e.OutputShape);
        float[]? gradOut = differentiable.Length > 0 ? Read<float>("grad_out", e.OutputShape) : null;
        var grads = differentiable.ToDictionary(i => i.Name, i => Read<float>("grad." + i.Name, i.Shape), StringComparer.Ordinal);
        return new GoldenCaseData
        {
            Inputs = inputs,
            GradOut = gradOut,
            Expected = new OpResult { OutputShape = e.OutputShape, Output = output, Grads = grads },
        };
    }
}
