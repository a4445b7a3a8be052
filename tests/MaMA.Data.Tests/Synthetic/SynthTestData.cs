using System.Text;
using MaMA.Data.Synthetic;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MaMA.Data.Tests.Synthetic;

/// <summary>One generated dataset shared by the synthetic-data tests (written once, deleted at the end).</summary>
[SetUpFixture]
public sealed class SynthTestData
{
    public const int Studies = 48;
    public const int Seed = 11;

    private static readonly Lazy<(string Dir, SynthSummary Summary)> Shared = new(() =>
    {
        string dir = NewTempDir("shared");
        var summary = SyntheticEmbed.Write(dir, new SynthOptions { Studies = Studies, Seed = Seed });
        return (dir, summary);
    });

    private static readonly List<string> TempDirs = [];

    public static string Dir => Shared.Value.Dir;

    public static SynthSummary Summary => Shared.Value.Summary;

    public static IEnumerable<SynthImage> Images2D => Summary.Images.Where(i => i.ImageType == "2D");

    public static string NewTempDir(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"mama-synth-tests-{Environment.ProcessId}-{name}-{Guid.NewGuid():N}");
        lock (TempDirs) TempDirs.Add(dir);
        return dir;
    }

    [OneTimeTearDown]
    public void DeleteTempDirs()
    {
        lock (TempDirs)
            foreach (string d in TempDirs)
                if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
    }

    /// <summary>Reads a PNG back as 8-bit grey pixels.</summary>
    public static (byte[] Pixels, int Width, int Height) LoadPng(string path)
    {
        using var image = Image.Load<L8>(path);
        var pixels = new byte[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        return (pixels, image.Width, image.Height);
    }

    /// <summary>A strict RFC 4180 reader (quoted fields may hold commas, doubled quotes and newlines).</summary>
    public static List<string[]> ReadCsv(string path)
    {
        string text = File.ReadAllText(path, Encoding.UTF8);
        var rows = new List<string[]>();
        var row = new List<string>();
        var field = new StringBuilder();
        int i = 0;
        bool fieldStarted = false;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '"' && field.Length == 0 && !fieldStarted)
            {
                i++;
                while (true)
                {
                    if (i >= text.Length) throw new InvalidDataException($"{path}: unterminated quoted field");
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(text[i++]);
                }
                fieldStarted = true;
                if (i < text.Length && text[i] is not (',' or '\n' or '\r')) throw new InvalidDataException($"{path}: text after a closing quote");
                continue;
            }
            if (c == ',') { row.Add(field.ToString()); field.Clear(); fieldStarted = false; i++; continue; }
            if (c == '\r') { i++; continue; }
            if (c == '\n')
            {
                row.Add(field.ToString());
                field.Clear();
                fieldStarted = false;
                rows.Add(row.ToArray());
                row.Clear();
                i++;
                continue;
            }
            if (c == '"') throw new InvalidDataException($"{path}: bare quote inside an unquoted field");
            field.Append(c);
            fieldStarted = true;
            i++;
        }
        if (field.Length > 0 || row.Count > 0) { row.Add(field.ToString()); rows.Add(row.ToArray()); }
        return rows;
    }

    /// <summary>CSV rows as dictionaries keyed by the header.</summary>
    public static List<Dictionary<string, string>> ReadTable(string path)
    {
        var rows = ReadCsv(path);
        string[] header = rows[0];
        return rows.Skip(1).Select(r =>
        {
            Assert.That(r.Length, Is.EqualTo(header.Length), $"{path}: a row has {r.Length} fields, the header {header.Length}");
            return header.Zip(r).ToDictionary(p => p.First, p => p.Second);
        }).ToList();
    }
}
