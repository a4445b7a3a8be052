using System.Text;
using MaMA.Data.Tables;

namespace MaMA.Data.Tests.Tables;

[TestFixture]
public sealed class CsvReaderTests
{
    private static string[] Values(CsvTable t, CsvRow r) => t.KeptColumns.Select(c => r[t.Column(c)]).ToArray();

    [Test]
    public void QuotedCommasDoubledQuotesAndNewlines()
    {
        string text = "a,b,c\r\n"
                      + "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
                      + "2,\"line one\nline two\",\r\n"
                      + "3,,\"\"\n";
        CsvTable t = CsvReader.ReadText(text, "t.csv");
        Assert.That(t.Header, Is.EqualTo(new[] { "a", "b", "c" }));
        Assert.That(t.Rows, Has.Count.EqualTo(3));
        Assert.That(Values(t, t.Rows[0]), Is.EqualTo(new[] { "1", "x, y", "say \"hi\"" }));
        Assert.That(Values(t, t.Rows[1]), Is.EqualTo(new[] { "2", "line one\nline two", "" }));
        Assert.That(Values(t, t.Rows[2]), Is.EqualTo(new[] { "3", "", "" }));
        // Rows keep the line they start on; the quoted newline moves the next row down a line.
        Assert.That(t.Rows.Select(r => r.Line), Is.EqualTo(new[] { 2, 3, 5 }));
        Assert.That(t.Problems, Is.Empty);
    }

    [Test]
    public void BomIsSkippedAndLastLineNeedsNoNewline()
    {
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("name,value\nx,1")];
        CsvTable t = CsvReader.ReadStream(new MemoryStream(bytes), "bom.csv", ["name"]);
        Assert.That(t.Header[0], Is.EqualTo("name"));
        Assert.That(t.Rows.Single()[t.Column("name")], Is.EqualTo("x"));
        // A pipe cannot seek back: the mark is dropped all the same, and a quoted first field stays quoted.
        byte[] quoted = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("\"name\",value\nx,1")];
        CsvTable piped = CsvReader.ReadStream(new ForwardOnlyStream(quoted), "pipe.csv", ["name"]);
        Assert.That(piped.Header, Is.EqualTo(new[] { "name", "value" }));
        Assert.That(piped.Rows.Single()[piped.Column("name")], Is.EqualTo("x"));
    }

    /// <summary>A stream that reads forward only, as a pipe or socket does.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override long Seek(long offset, SeekOrigin loc) => throw new NotSupportedException();
    }

    [Test]
    public void CrOnlyLineEndsAndBlankLines()
    {
        CsvTable t = CsvReader.ReadText("a,b\r1,2\r\r\n\n3,4\r", "cr.csv");
        Assert.That(t.Rows.Select(r => r[0] + r[1]), Is.EqualTo(new[] { "12", "34" }));
        Assert.That(t.Rows.Select(r => r.Line), Is.EqualTo(new[] { 2, 5 }));
    }

    [Test]
    public void MissingRequiredColumnNamesFileAndColumn()
    {
        var e = Assert.Throws<InvalidDataException>(() => CsvReader.ReadText("acc_anon,side\n1,L\n", "EMBED_OpenData_clinical.csv", ["acc_anon", "asses"]));
        Assert.That(e!.Message, Does.Contain("EMBED_OpenData_clinical.csv"));
        Assert.That(e.Message, Does.Contain("missing required column 'asses'"));
    }

    [Test]
    public void EmptyFileIsAClearError()
    {
        var e = Assert.Throws<InvalidDataException>(() => CsvReader.ReadText("", "empty.csv"));
        Assert.That(e!.Message, Does.Contain("empty.csv").And.Contain("empty"));
        e = Assert.Throws<InvalidDataException>(() => CsvReader.ReadStream(new MemoryStream([0xEF, 0xBB, 0xBF, (byte)'\n']), "bom-only.csv"));
        Assert.That(e!.Message, Does.Contain("bom-only.csv").And.Contain("empty"));
    }

    [Test]
    public void MissingFileIsAnError()
    {
        var e = Assert.Throws<FileNotFoundException>(() => CsvReader.ReadFile("/nonexistent/x.csv"));
        Assert.That(e!.Message, Does.Contain("/nonexistent/x.csv"));
    }

    [Test]
    public void WrongFieldCountIsSkippedWithItsLine()
    {
        CsvTable t = CsvReader.ReadText("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n", "count.csv");
        Assert.That(t.Rows.Select(r => r[0]), Is.EqualTo(new[] { "1", "10" }));
        Assert.That(t.SkippedRows, Is.EqualTo(2));
        Assert.That(t.Problems[0].Line, Is.EqualTo(3));
        Assert.That(t.Problems[0].Reason, Is.EqualTo("expected 3 fields (as in the header), found 2"));
        Assert.That(t.Problems[1].Line, Is.EqualTo(4));
        Assert.That(t.Problems[1].ToString(), Is.EqualTo("line 4: expected 3 fields (as in the header), found 4 (row skipped)"));
        Assert.That(t.Summary(), Is.EqualTo("count.csv: 2 rows, 2 skipped"));
    }

    [Test]
    public void BadQuotingIsSkippedWithItsLine()
    {
        string text = "a,b\n"
                      + "1,\"ok\"\n"
                      + "2,\"closed\"junk\n"
                      + "3,in\"side\n"
                      + "4,fine\n";
        CsvTable t = CsvReader.ReadText(text, "quotes.csv");
        Assert.That(t.Rows.Select(r => r[0]), Is.EqualTo(new[] { "1", "4" }));
        Assert.That(t.Problems.Select(p => p.Line), Is.EqualTo(new[] { 3, 4 }));
        Assert.That(t.Problems[0].Reason, Does.Contain("after the closing quote of field 2"));
        Assert.That(t.Problems[1].Reason, Does.Contain("quote character inside unquoted field 2"));
        Assert.That(t.Problems.All(p => p.Skipped));
    }

    [Test]
    public void UnterminatedQuoteSkipsOnlyItsFirstLine()
    {
        string text = "a,b\n"
                      + "1,x\n"
                      + "2,\"never closed\n"
                      + "3,y\n"
                      + "4,z\n";
        CsvTable t = CsvReader.ReadText(text, "open.csv");
        Assert.That(t.Rows.Select(r => r[0]), Is.EqualTo(new[] { "1", "3", "4" }));
        Assert.That(t.Rows.Select(r => r.Line), Is.EqualTo(new[] { 2, 4, 5 }));
        Assert.That(t.Problems.Single().Line, Is.EqualTo(3));
        Assert.That(t.Problems.Single().Reason, Does.StartWith("unterminated quoted field"));
    }

    [Test]
    public void InvalidUtf8IsReplacedAndReported()
    {
        byte[] bytes = [.. Encoding.UTF8.GetBytes("name,city\nok,Z\u00fcrich\nbad,"), 0xFF, 0xFE, (byte)'x', (byte)'\n'];
        CsvTable t = CsvReader.ReadStream(new MemoryStream(bytes), "latin.csv");
        Assert.That(t.Rows, Has.Count.EqualTo(2));
        Assert.That(t.Rows[0][1], Is.EqualTo("Z\u00fcrich"));
        Assert.That(t.Rows[1][1], Does.Contain("\uFFFD").And.EndWith("x"));
        Assert.That(t.InvalidUtf8Sequences, Is.GreaterThanOrEqualTo(1));
        CsvProblem p = t.Problems.Single();
        Assert.That((p.Line, p.Skipped), Is.EqualTo((3, false)));
        Assert.That(p.Reason, Does.Contain("invalid UTF-8"));
    }

    [Test]
    public void KeepsOnlyRequestedColumnsInRequestedOrder()
    {
        CsvTable t = CsvReader.ReadText(" x , y ,z\n1,2,3\n", "cols.csv", required: ["z", "x"], optional: ["w", "y"]);
        Assert.That(t.Header, Is.EqualTo(new[] { "x", "y", "z" }), "header names are trimmed");
        Assert.That(t.KeptColumns, Is.EqualTo(new[] { "z", "x", "y" }));
        Assert.That(t.HasColumn("w"), Is.False);
        Assert.That((t.Rows[0][t.Column("z")], t.Rows[0][t.Column("x")], t.Rows[0][t.Column("y")]), Is.EqualTo(("3", "1", "2")));
    }

    [Test]
    public void WriterRoundTripsAwkwardFields()
    {
        string dir = Path.Combine(Path.GetTempPath(), "mama-csv-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = Path.Combine(dir, "round.csv");
            string[][] rows = [["plain", "with, comma"], ["quote \"q\"", "multi\nline"], ["", " padded "]];
            CsvWriter.WriteFile(path, ["a", "b"], rows);
            CsvTable t = CsvReader.ReadFile(path);
            Assert.That(t.Rows.Select(r => new[] { r[0], r[1] }), Is.EqualTo(rows));
            Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1), "no temporary file is left behind");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
