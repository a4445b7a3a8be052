using System.Text.Encodings.Web;
using System.Text.Json;
using MaMA.Data.Reports;
using MaMA.Data.Tables;

namespace MaMA.Data.Embed;

/// <summary>
/// Caption files (JSON Lines) as written by <c>mama captions</c>: one object per record with exactly
/// the keys <c>path</c>, <c>study</c>, <c>patient</c>, <c>report</c> (plain text, before SEP
/// replacement), <c>birads</c> (0-6), <c>density</c> (1-5 or null) and <c>pair_candidates</c>
/// (paths of the other images of the same study in the same record list).
/// </summary>
public static class EmbedCaptions
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>
    /// Writes <paramref name="records"/> (one split) to <paramref name="path"/> atomically. With
    /// <paramref name="masking"/>, each report is rebuilt with the masking draws of its
    /// <see cref="EmbedRecord.Index"/> at <paramref name="epoch"/>; without, it is the unmasked report.
    /// </summary>
    public static void Write(string path, IReadOnlyList<EmbedRecord> records, MetaMasking? masking = null, long epoch = 0)
    {
        IReadOnlyList<IReadOnlyList<int>> pairs = EmbedDataset.PairCandidates(records);
        AtomicFile.WriteStream(path, stream =>
        {
            for (int i = 0; i < records.Count; i++)
            {
                EmbedRecord r = records[i];
                string report = masking is null ? r.Report.Text : masking.Build(r.Fields, r.Index, epoch).Text;
                using (var json = new Utf8JsonWriter(stream, WriterOptions))
                {
                    json.WriteStartObject();
                    json.WriteString("path", r.Path);
                    json.WriteString("study", r.Study);
                    json.WriteString("patient", r.Patient);
                    json.WriteString("report", report);
                    json.WriteNumber("birads", r.Birads);
                    json.WriteNumber("density", r.Density);
                    json.WriteStartArray("pair_candidates");
                    foreach (int j in pairs[i]) json.WriteStringValue(records[j].Path);
                    json.WriteEndArray();
                    json.WriteEndObject();
                }
                stream.WriteByte((byte)'\n');
            }
        });
    }

    /// <summary>One line of a caption file, read back.</summary>
    public sealed record Line(string Path, string Study, string Patient, string Report, int Birads, int? Density, IReadOnlyList<string> PairCandidates);

    /// <summary>Reads a caption file written by <see cref="Write"/>.</summary>
    public static IReadOnlyList<Line> Read(string path)
    {
        var lines = new List<Line>();
        int number = 0;
        foreach (string text in File.ReadLines(path))
        {
            number++;
            if (text.Length == 0) continue;
            try
            {
                using JsonDocument doc = JsonDocument.Parse(text);
                JsonElement o = doc.RootElement;
                JsonElement density = o.GetProperty("density");
                lines.Add(new Line(
                    o.GetProperty("path").GetString() ?? "",
                    o.GetProperty("study").GetString() ?? "",
                    o.GetProperty("patient").GetString() ?? "",
                    o.GetProperty("report").GetString() ?? "",
                    o.GetProperty("birads").GetInt32(),
                    density.ValueKind == JsonValueKind.Null ? null : density.GetInt32(),
                    o.GetProperty("pair_candidates").EnumerateArray().Select(e => e.GetString() ?? "").ToArray()));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}: line {number}: not a caption record ({e.Message}).", e);
            }
        }
        return lines;
    }
}
