using System.Security.Cryptography;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tests.Parity;
using MaMA.Interop.Torch.Parity;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Tests.Golden;

/// <summary>
/// Regression against the committed libtorch goldens in golden/ops (written only by
/// tools/MaMA.GoldenGen): each case's stored inputs and upstream gradient go through the engine,
/// forward and backward, on the fast CPU backend and on the ILGPU CPU simulator, and the output and
/// input gradients must match the stored ones within the manifest's tolerances. Unlike the live
/// parity tests, nothing here calls libtorch, and the data is the same on every run.
/// </summary>
[TestFixture]
public sealed class OpGoldenTests
{
    private static readonly string[] Devices = ["cpu", "ilgpu-cpu"];

    /// <summary>Every case in the manifest (and every catalog case, so a missing golden shows up per case too).</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        IEnumerable<string> listed = GoldenFiles.TryManifest().Manifest?.Cases.Keys.Order(StringComparer.Ordinal) ?? Enumerable.Empty<string>();
        IEnumerable<string> names = OpCatalog.All.Select(c => c.Name).Concat(listed).Distinct(StringComparer.Ordinal);
        return from name in names
               from device in Devices
               select new TestCaseData(name, device).SetName($"{name} [{device}]");
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesGolden(string caseName, string deviceName)
    {
        GoldenManifest manifest = GoldenFiles.Manifest();
        if (!manifest.Cases.TryGetValue(caseName, out GoldenEntry? entry))
            Assert.Fail($"{caseName}: the catalog case has no golden entry.\n{GoldenFiles.Regenerate}");
        OpCase? c = OpCatalog.All.FirstOrDefault(x => x.Name == caseName);
        if (c is null) Assert.Fail($"{caseName}: golden entry for a case the catalog no longer has.\n{GoldenFiles.Regenerate}");
        List<string> stale = GoldenFiles.Staleness(entry!, c!);
        if (stale.Count > 0) Assert.Fail($"{caseName}: golden entry differs from the catalog: {string.Join("; ", stale)}.\n{GoldenFiles.Regenerate}");

        GoldenCaseData golden = GoldenFiles.Load(entry!, c!);
        OpData data = OpData.FromArrays(c!, golden.Inputs);
        Device device = Device.Parse(deviceName);
        OpResult actual = ParityRunner.RunEngine(c!, data, device, shape =>
        {
            Assert.That(shape, Is.EqualTo(entry!.OutputShape), $"{caseName} on {deviceName}: output shape vs golden");
            return golden.GradOut ?? throw new AssertionException($"{caseName}: the engine output needs a gradient but the golden has no grad_out.\n{GoldenFiles.Regenerate}");
        });
        OpCase withManifestTolerances = c! with { Tolerance = entry!.Tolerance, GradTolerance = entry.GradTolerance };
        ParityAssert.Matches(withManifestTolerances, $"{deviceName} (golden {entry.File})", actual, golden.Expected);
    }

    /// <summary>
    /// (a) Catalog and manifest list the same cases, with the same inputs and tolerances; the stored
    /// inputs are still what the catalog draws from the manifest's seed (catches a changed input kind
    /// or range); every file exists and no other one does.
    /// </summary>
    [Test]
    public void ManifestCoversTheCatalog()
    {
        GoldenManifest manifest = GoldenFiles.Manifest();
        var catalog = OpCatalog.All.ToDictionary(c => c.Name, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (string name in catalog.Keys.Where(n => !manifest.Cases.ContainsKey(n)))
            problems.Add($"missing golden for catalog case '{name}'");
        foreach (string name in manifest.Cases.Keys.Where(n => !catalog.ContainsKey(n)).Order(StringComparer.Ordinal))
            problems.Add($"golden '{name}' has no catalog case");
        foreach (GoldenEntry e in manifest.Cases.Values.Where(e => catalog.ContainsKey(e.Name)).OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            List<string> why = GoldenFiles.Staleness(e, catalog[e.Name]);
            if (why.Count == 0 && File.Exists(Path.Combine(GoldenFiles.OpsDir, e.File)))
                why.AddRange(GoldenFiles.InputDrift(e, catalog[e.Name], manifest.Seed));
            if (why.Count > 0) problems.Add($"stale golden '{e.Name}': {string.Join("; ", why)}");
        }
        string dir = GoldenFiles.OpsDir;
        foreach (GoldenEntry e in manifest.Cases.Values.OrderBy(e => e.Name, StringComparer.Ordinal))
            if (!File.Exists(Path.Combine(dir, e.File))) problems.Add($"'{e.Name}': {e.File} does not exist");
        var listed = manifest.Cases.Values.Select(e => e.File).ToHashSet(StringComparer.Ordinal);
        foreach (string f in Directory.EnumerateFiles(dir, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal)!)
            if (!listed.Contains(f!)) problems.Add($"{f} is not in the manifest");
        Assert.That(problems, Is.Empty, $"{GoldenFiles.Regenerate}\n  {string.Join("\n  ", problems)}");
    }

    /// <summary>(b) Each file is the one the generator wrote: its sha256 and metadata match the manifest.</summary>
    [Test]
    public void FilesMatchTheManifestHashes()
    {
        GoldenManifest manifest = GoldenFiles.Manifest();
        var problems = new List<string>();
        foreach (GoldenEntry e in manifest.Cases.Values.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            string path = Path.Combine(GoldenFiles.OpsDir, e.File);
            if (!File.Exists(path))
            {
                problems.Add($"{e.File}: missing");
                continue;
            }
            string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
            if (sha != e.Sha256)
            {
                problems.Add($"{e.File}: sha256 {sha}, manifest says {e.Sha256} (edited by hand?)");
                continue;
            }
            using SafetensorsFile file = Safetensors.Open(path);
            string Meta(string key) => file.Metadata.GetValueOrDefault(key) ?? "(none)";
            if (Meta("case") != e.Name || Meta("seed") != manifest.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture) || Meta("torch") != manifest.Torch)
                problems.Add($"{e.File}: metadata case={Meta("case")} seed={Meta("seed")} torch={Meta("torch")}, manifest says case={e.Name} seed={manifest.Seed} torch={manifest.Torch}");
        }
        Assert.That(problems, Is.Empty, $"golden files do not match golden/ops/manifest.json.\n{GoldenFiles.Regenerate}\n  {string.Join("\n  ", problems)}");
    }

    /// <summary>(c) The manifest is in the format these tests read.</summary>
    [Test]
    public void ManifestFormatIsCurrent()
    {
        (GoldenManifest? manifest, string? error) = GoldenFiles.TryManifest();
        Assert.That(manifest, Is.Not.Null, $"{error}\n{GoldenFiles.Regenerate}");
        Assert.That(manifest!.Format, Is.EqualTo(GoldenFiles.ExpectedFormat), $"golden/ops/manifest.json format.\n{GoldenFiles.Regenerate}");
        Assert.That(manifest.Generator, Is.EqualTo("dotnet run --project tools/MaMA.GoldenGen -- ops"), "generator");
        Assert.That(manifest.Torch, Does.Match(@"^\d+\.\d+"), "torch version");
    }
}
