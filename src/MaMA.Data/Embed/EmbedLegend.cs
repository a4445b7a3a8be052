using MaMA.Data.Tables;

namespace MaMA.Data.Embed;

/// <summary>
/// The clinical legend (<c>Header in export</c>, <c>Code</c>, <c>Meaning</c>): decodes massshape,
/// massdens, calcfind and calcdistri codes. Codes are compared as written; when a code appears twice
/// under one header the later row wins (as a dictionary built row by row would).
/// </summary>
public sealed class EmbedLegend
{
    private readonly Dictionary<string, Dictionary<string, string>> _byHeader = new(StringComparer.Ordinal);

    public EmbedLegend(IEnumerable<(string Header, string Code, string Meaning)> entries)
    {
        foreach ((string header, string code, string meaning) in entries)
        {
            if (!_byHeader.TryGetValue(header, out var codes))
                _byHeader[header] = codes = new Dictionary<string, string>(StringComparer.Ordinal);
            codes[code] = meaning;
        }
    }

    public static EmbedLegend FromTable(CsvTable table)
    {
        int h = table.Column(EmbedColumns.LegendHeader), c = table.Column(EmbedColumns.LegendCode), m = table.Column(EmbedColumns.LegendMeaning);
        return new EmbedLegend(table.Rows.Select(r => (r[h], r[c], r[m])));
    }

    /// <summary>The meaning of <paramref name="code"/> under <paramref name="header"/>, or null when it is not in the legend.</summary>
    public string? Decode(string header, string? code) =>
        code is not null && _byHeader.TryGetValue(header, out var codes) && codes.TryGetValue(code, out string? meaning) ? meaning : null;

    /// <summary>Number of codes listed under <paramref name="header"/>.</summary>
    public int Count(string header) => _byHeader.TryGetValue(header, out var codes) ? codes.Count : 0;
}
