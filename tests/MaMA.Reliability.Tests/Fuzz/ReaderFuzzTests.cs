using MaMA.Data.Images;
using MaMA.Data.Tables;
using MaMA.Engine.Serialization;
using MaMA.Interop.Torch.Import;
using MaMA.Reliability.Tests.Corpus;
using MaMA.Reliability.Tests.Support;

namespace MaMA.Reliability.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of the readers (DICOM, PNG, JPEG, CSV, safetensors header, torch.save
/// zip). Iterations per reader: MAMA_FUZZ_ITERATIONS (default 2000). SharpFuzz (coverage-guided,
/// needs an AFL/libFuzzer-instrumented runtime) is not used: see docs/reliability.md.
/// </summary>
[Category("Fuzz")]
public sealed class ReaderFuzzTests
{
    private const int DefaultIterations = 2000;

    private static void Check(FuzzReport r)
    {
        TestContext.Out.WriteLine(r.ToString());
        foreach ((string reason, int n) in r.Rejected.OrderByDescending(kv => kv.Value).Take(12)) TestContext.Out.WriteLine($"  {n,6}  {reason}");
        Assert.That(r.Findings, Is.Empty, string.Join("\n", r.Findings.Take(10)));
    }

    private static FuzzReport RunBounded(Func<FuzzReport> run)
    {
        Outcome o = Bounded.Run(run, timeoutMs: 600_000);
        return Expect.Success<FuzzReport>(o);
    }

    [Test]
    public void Dicom() => Check(RunBounded(() => FuzzRun.Run("DICOM", [DicomCorpus.Valid(), DicomCorpus.Valid(explicitVr: false), DicomSequenceSeed()],
        FuzzRun.Iterations(DefaultIterations), seed: 11, b => ImageReader.Read(b, "fuzz.dcm"), e => e is ImageReadException)));

    [Test]
    public void Png() => Check(RunBounded(() => FuzzRun.Run("PNG", [PngBuilder.Grey(16, 12), ImageWriter.EncodePng16(5, 3, new ushort[15])],
        FuzzRun.Iterations(DefaultIterations), seed: 12, b => ImageReader.Read(b, "fuzz.png"), e => e is ImageReadException)));

    [Test]
    public void Jpeg() => Check(RunBounded(() => FuzzRun.Run("JPEG", [ImageCorpus.ValidJpeg()],
        FuzzRun.Iterations(DefaultIterations), seed: 13, b => ImageReader.Read(b, "fuzz.jpg"), e => e is ImageReadException)));

    [Test]
    public void Csv() => Check(RunBounded(() => FuzzRun.Run("CSV", ["a,b,c\n1,\"x,y\",3\n\"q\"\"q\",5,6\r\n7,8,9\n"u8.ToArray()],
        FuzzRun.Iterations(DefaultIterations), seed: 14, b => CsvReader.ReadStream(new MemoryStream(b), "fuzz.csv", CsvCorpus.Required), e => e is InvalidDataException)));

    [Test]
    public void SafetensorsHeader()
    {
        using var dir = new TempFolder("fuzz-st");
        string path = Path.Combine(dir.Path, "fuzz.safetensors");
        byte[] seed = SafetensorsCorpus.File("""{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"I64","shape":[2],"data_offsets":[24,40]}}""", 40);
        Check(RunBounded(() => FuzzRun.Run("safetensors", [seed], FuzzRun.Iterations(DefaultIterations), seed: 15, b =>
        {
            File.WriteAllBytes(path, b);
            using SafetensorsFile f = Safetensors.Open(path);
            foreach (string name in f.Names) f.Load(name).Dispose();
        }, e => e is InvalidDataException)));
    }

    [Test]
    public void TorchZip()
    {
        using var dir = new TempFolder("fuzz-pt");
        string path = Path.Combine(dir.Path, "fuzz.pth");
        Check(RunBounded(() => FuzzRun.Run("torch.save zip", [TorchCorpus.Valid()], FuzzRun.Iterations(DefaultIterations), seed: 16, b =>
        {
            File.WriteAllBytes(path, b);
            using var src = CheckpointReader.Open(path);
            foreach (var t in src.Tensors.Values) t.Use(x => x.Numel);
        }, e => e is InvalidDataException)));
    }

    /// <summary>A file with a nested sequence before the pixel module, so mutations hit the sequence walker.</summary>
    private static byte[] DicomSequenceSeed() => DicomBuilder.Part10(DicomBuilder.ExplicitLE, DicomBuilder.Image(beforePixelModule: b =>
        b.Element(0x0008, 0x1140, "SQ", [], length: 0xFFFFFFFF)
         .Raw([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF])
         .Text(0x0008, 0x1150, "UI", "1.2.3")
         .Raw([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0])).Pixels(24).ToArray());
}
