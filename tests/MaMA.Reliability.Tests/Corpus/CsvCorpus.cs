using System.Text;

namespace MaMA.Reliability.Tests.Corpus;

/// <summary>
/// Bad CSV files for <c>CsvReader</c> with the columns "a,b,c" required. A case either fails as a
/// whole (<see cref="Case.Error"/>: an <see cref="InvalidDataException"/> containing that text) or
/// is read with <see cref="Case.Rows"/> good rows kept and <see cref="Case.Skipped"/> rows counted
/// as skipped (the rest of the file survives a bad row).
/// </summary>
public static class CsvCorpus
{
    public sealed record Case(string Name, byte[] Bytes, string? Error, int Rows = 0, int Skipped = 0, int Utf8Errors = 0)
    {
        public override string ToString() => Name;
    }

    public static readonly string[] Required = ["a", "b", "c"];

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    public static IEnumerable<Case> All()
    {
        yield return new("csv-empty-file", [], "the file is empty");
        yield return new("csv-bom-only", [0xEF, 0xBB, 0xBF], "the file is empty");
        yield return new("csv-blank-lines-only", U("\n\r\n\n"), "the file is empty");
        yield return new("csv-missing-column", U("a,b\n1,2\n"), "missing required column 'c'");
        yield return new("csv-header-unterminated-quote", U("a,\"b,c\n1,2,3\n"), "the header row is not valid CSV");
        yield return new("csv-extra-column-in-header", U("a,b,c,d\n1,2,3,4\n"), null, Rows: 1);
        yield return new("csv-extra-field-in-row", U("a,b,c\n1,2,3\n1,2,3,4\n5,6,7\n"), null, Rows: 2, Skipped: 1);
        yield return new("csv-missing-field-in-row", U("a,b,c\n1,2\n5,6,7\n"), null, Rows: 1, Skipped: 1);
        yield return new("csv-quote-inside-unquoted-field", U("a,b,c\n1,2\"x,3\n5,6,7\n"), null, Rows: 1, Skipped: 1);
        yield return new("csv-text-after-closing-quote", U("a,b,c\n\"1\"x,2,3\n5,6,7\n"), null, Rows: 1, Skipped: 1);
        yield return new("csv-unterminated-quote-mid-file", U("a,b,c\n\"1,2,3\n5,6,7\n8,9,10\n"), null, Rows: 2, Skipped: 1);
        yield return new("csv-quoted-newlines-and-commas", U("a,b,c\n\"1\n2\",\"x,y\",\"q\"\"q\"\n"), null, Rows: 1);
        yield return new("csv-non-utf8-bytes", [.. U("a,b,c\n1,"), 0xFF, 0xFE, .. U(",3\n4,5,6\n")], null, Rows: 2, Utf8Errors: 2);
        yield return new("csv-latin1-file", Encoding.Latin1.GetBytes("a,b,c\nR\u00e9sum\u00e9,\u00e0,\u00fc\n"), null, Rows: 1, Utf8Errors: 4);
        yield return new("csv-nul-bytes", U("a,b,c\n1,\0\0,3\n"), null, Rows: 1);
        yield return new("csv-cr-only-line-ends", U("a,b,c\r1,2,3\r4,5,6\r"), null, Rows: 2);
        yield return new("csv-utf16-file", Encoding.Unicode.GetBytes("a,b,c\n1,2,3\n"), "missing required column");
        // 20,000 lines that each start with a quote: each quote closes the one opened a line above,
        // so every pair of lines is one record with text after its closing quote (10,000 skipped).
        // A recovery that re-read the rest of the file per bad quote would be quadratic here.
        yield return new("csv-20000-lines-opening-quotes", U("a,b,c\n" + string.Concat(Enumerable.Repeat("\"1,2,3\n", 20_000))), null, Rows: 0, Skipped: 10_000);
        yield return new("csv-final-quote-never-closed", U("a,b,c\n1,2,3\n\"" + string.Concat(Enumerable.Repeat("4,5,6\n", 20_000))), null, Rows: 20_000, Skipped: 1);
        yield return new("csv-one-10mb-field", U("a,b,c\n1,2," + new string('x', 10_000_000) + "\n"), null, Rows: 1);
    }
}
