using System.Text;

namespace MaMA.Data.Tables;

/// <summary>
/// Reads RFC 4180 CSV: comma separated, fields optionally enclosed in double quotes, a doubled quote
/// inside a quoted field is one quote, and quoted fields may hold commas and line breaks (CRLF, LF or
/// CR). The first non-blank record is the header. Input is UTF-8 (a byte order mark is skipped);
/// invalid bytes are decoded as U+FFFD and reported as warnings on the records that hold them.
/// <para>
/// Bad records never stop the read: a record with the wrong number of fields, a quote inside an
/// unquoted field, text after a closing quote, or a quote left open at the end of the file is
/// reported (<see cref="CsvTable.Problems"/>, with the 1-based line the record starts on) and
/// skipped. An unterminated quote skips only its own first line: reading resumes on the next line.
/// Blank lines are ignored. A missing required column or an empty file is an
/// <see cref="InvalidDataException"/> naming the file (and the column).
/// </para>
/// </summary>
public static class CsvReader
{
    /// <summary>
    /// Reads <paramref name="path"/>. With neither <paramref name="required"/> nor
    /// <paramref name="optional"/>, every column is kept; otherwise only the named ones (an optional
    /// column the file lacks is simply absent: check <see cref="CsvTable.HasColumn"/>).
    /// </summary>
    public static CsvTable ReadFile(string path, IEnumerable<string>? required = null, IEnumerable<string>? optional = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return ReadStream(stream, path, required, optional);
    }

    /// <summary>
    /// Every non-blank record of <paramref name="path"/> with the 1-based line it starts on, fields
    /// unquoted, for files whose first row may or may not be a header (the caller decides). Unlike
    /// <see cref="ReadFile"/> nothing is skipped: a record with bad quoting is an
    /// <see cref="InvalidDataException"/> naming its line.
    /// </summary>
    public static IReadOnlyList<(int Line, IReadOnlyList<string> Fields)> ReadRecords(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        using var reader = new StreamReader(path, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false);
        if (reader.Peek() == '\uFEFF') reader.Read();
        var parser = new CsvParser(reader);
        var records = new List<(int, IReadOnlyList<string>)>();
        while (parser.Next() is { } rec)
        {
            if (rec.Error is not null) throw new InvalidDataException($"{path}: line {rec.Line}: {rec.Error}.");
            records.Add((rec.Line, rec.Fields));
        }
        return records;
    }

    /// <summary>Reads CSV text held in memory; <paramref name="name"/> names it in messages.</summary>
    public static CsvTable ReadText(string text, string name, IEnumerable<string>? required = null, IEnumerable<string>? optional = null) =>
        ReadStream(new MemoryStream(new UTF8Encoding(false).GetBytes(text)), name, required, optional);

    /// <summary>Reads UTF-8 CSV bytes from <paramref name="stream"/>; <paramref name="name"/> names it in messages.</summary>
    public static CsvTable ReadStream(Stream stream, string name, IEnumerable<string>? required = null, IEnumerable<string>? optional = null)
    {
        var fallback = new FlaggingDecoderFallback();
        var encoding = (Encoding)new UTF8Encoding(false, false).Clone();
        encoding.DecoderFallback = fallback;
        using var reader = new StreamReader(stream, encoding, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true);
        // A UTF-8 byte order mark decodes to U+FEFF: dropped here, from the reader's buffer, so that
        // streams that cannot seek (pipes, network) lose it too.
        if (reader.Peek() == '\uFEFF') reader.Read();
        var parser = new CsvParser(reader);

        List<string>? header = null;
        int headerLine = 0;
        while (header is null)
        {
            CsvParser.Record? rec = parser.Next();
            if (rec is null)
                throw new InvalidDataException($"{name}: the file is empty; expected a header row{DescribeExpected(required)}.");
            if (rec.Error is not null)
                throw new InvalidDataException($"{name}: line {rec.Line}: the header row is not valid CSV ({rec.Error}).");
            header = rec.Fields.Select(f => f.Trim()).ToList();
            headerLine = rec.Line;
        }

        string[] requiredList = required?.ToArray() ?? [];
        string[] optionalList = optional?.ToArray() ?? [];
        foreach (string col in requiredList)
        {
            if (!header.Contains(col, StringComparer.Ordinal))
                throw new InvalidDataException($"{name}: missing required column '{col}' (the header on line {headerLine} has: {string.Join(", ", header.Select(h => "'" + h + "'"))}).");
        }

        List<string> kept;
        if (required is null && optional is null)
            kept = header.Distinct(StringComparer.Ordinal).ToList();
        else
            kept = requiredList.Concat(optionalList.Where(o => header.Contains(o, StringComparer.Ordinal))).Distinct(StringComparer.Ordinal).ToList();
        int[] sourceIndex = kept.Select(k => header.IndexOf(k)).ToArray();

        var rows = new List<CsvRow>();
        var problems = new List<CsvProblem>();
        int replacementChars = 0;
        while (parser.Next() is { } rec)
        {
            int bad = CountReplacementChars(rec.Fields);
            replacementChars += bad;
            if (rec.Error is not null)
            {
                problems.Add(new CsvProblem(rec.Line, rec.Error, Skipped: true));
                continue;
            }
            if (rec.Fields.Count != header.Count)
            {
                problems.Add(new CsvProblem(rec.Line, $"expected {header.Count} fields (as in the header), found {rec.Fields.Count}", Skipped: true));
                continue;
            }
            if (bad > 0 && fallback.Triggered)
                problems.Add(new CsvProblem(rec.Line, "invalid UTF-8 bytes replaced with U+FFFD", Skipped: false));
            var values = new string[sourceIndex.Length];
            for (int i = 0; i < values.Length; i++) values[i] = rec.Fields[sourceIndex[i]];
            rows.Add(new CsvRow(rec.Line, values));
        }
        return new CsvTable(name, header, kept, rows, problems, fallback.Triggered ? replacementChars : 0);
    }

    private static string DescribeExpected(IEnumerable<string>? required) =>
        required is null ? "" : " with columns " + string.Join(", ", required.Select(r => "'" + r + "'"));

    private static int CountReplacementChars(List<string> fields)
    {
        int n = 0;
        foreach (string f in fields)
        {
            foreach (char c in f)
                if (c == '\uFFFD') n++;
        }
        return n;
    }

    /// <summary>Decodes invalid bytes as U+FFFD and remembers that it happened.</summary>
    private sealed class FlaggingDecoderFallback : DecoderFallback
    {
        public bool Triggered;
        public override int MaxCharCount => 1;
        public override DecoderFallbackBuffer CreateFallbackBuffer() => new Buffer(this);

        private sealed class Buffer(FlaggingDecoderFallback owner) : DecoderFallbackBuffer
        {
            private int _remaining;

            public override int Remaining => _remaining;

            public override bool Fallback(byte[] bytesUnknown, int index)
            {
                owner.Triggered = true;
                _remaining = 1;
                return true;
            }

            public override char GetNextChar()
            {
                if (_remaining == 0) return '\0';
                _remaining--;
                return '\uFFFD';
            }

            public override bool MovePrevious()
            {
                if (_remaining != 0) return false;
                _remaining = 1;
                return true;
            }

            public override void Reset() => _remaining = 0;
        }
    }
}

/// <summary>Splits decoded text into CSV records, tracking line numbers and recovering from bad quoting.</summary>
internal sealed class CsvParser(TextReader reader)
{
    internal sealed record Record(int Line, List<string> Fields, string? Error);

    private readonly char[] _buffer = new char[1 << 16];
    private int _pos, _len;
    private string? _pushback;
    private int _pushbackPos;
    private int _line = 1;
    private readonly StringBuilder _raw = new();
    private readonly StringBuilder _field = new();

    /// <summary>The next non-blank record, or null at the end of the input.</summary>
    public Record? Next()
    {
        while (true)
        {
            int c = Peek();
            if (c < 0) return null;
            if (c is '\n' or '\r')
            {
                ReadChar();
                continue;
            }
            return ReadRecord();
        }
    }

    private Record ReadRecord()
    {
        int startLine = _line;
        _raw.Clear();
        var fields = new List<string>();
        string? error = null;
        while (true)
        {
            // At the start of a field.
            _field.Clear();
            int c = ReadChar();
            bool endOfRecord;
            if (c == '"')
            {
                int quoteLine = _line;
                // Quoted field.
                while (true)
                {
                    int q = ReadChar();
                    if (q < 0)
                    {
                        string message = $"unterminated quoted field (the quote opened on line {quoteLine} is never closed)";
                        ResumeAfterFirstLine(startLine);
                        return new Record(startLine, fields, message);
                    }
                    if (q == '"')
                    {
                        if (Peek() == '"')
                        {
                            ReadChar();
                            _field.Append('"');
                            continue;
                        }
                        break;
                    }
                    _field.Append((char)q);
                }
                // After the closing quote: a separator, the end of the record, or junk.
                int after = ReadChar();
                if (after == ',') endOfRecord = false;
                else if (after < 0 || after == '\n') endOfRecord = true;
                else if (after == '\r')
                {
                    if (Peek() == '\n') ReadChar();
                    endOfRecord = true;
                }
                else
                {
                    error ??= $"unexpected character '{(char)after}' after the closing quote of field {fields.Count + 1}";
                    _field.Append((char)after);
                    endOfRecord = ReadUnquotedRest(fields.Count, ref error);
                }
            }
            else if (c < 0 || c == '\n')
            {
                endOfRecord = true;
            }
            else if (c == '\r')
            {
                if (Peek() == '\n') ReadChar();
                endOfRecord = true;
            }
            else if (c == ',')
            {
                endOfRecord = false;
            }
            else
            {
                _field.Append((char)c);
                endOfRecord = ReadUnquotedRest(fields.Count, ref error);
            }
            fields.Add(_field.ToString());
            if (endOfRecord) return new Record(startLine, fields, error);
        }
    }

    /// <summary>Reads the rest of an unquoted field; returns true when the record ended with it.</summary>
    private bool ReadUnquotedRest(int fieldIndex, ref string? error)
    {
        while (true)
        {
            int c = ReadChar();
            if (c < 0 || c == '\n') return true;
            if (c == '\r')
            {
                if (Peek() == '\n') ReadChar();
                return true;
            }
            if (c == ',') return false;
            if (c == '"') error ??= $"quote character inside unquoted field {fieldIndex + 1}";
            _field.Append((char)c);
        }
    }

    /// <summary>After an unterminated quote, re-reads everything after the record's first line.</summary>
    private void ResumeAfterFirstLine(int startLine)
    {
        string raw = _raw.ToString();
        int i = 0;
        while (i < raw.Length && raw[i] != '\n' && raw[i] != '\r') i++;
        if (i >= raw.Length) return;
        if (raw[i] == '\r' && i + 1 < raw.Length && raw[i + 1] == '\n') i++;
        string rest = raw[(i + 1)..];
        // The reader is at the end of the input, so nothing is pending behind the pushback.
        _pushback = rest;
        _pushbackPos = 0;
        _line = startLine + 1;
    }

    private int Peek()
    {
        if (_pushback is not null && _pushbackPos < _pushback.Length) return _pushback[_pushbackPos];
        if (_pos >= _len && !Fill()) return -1;
        return _buffer[_pos];
    }

    private int ReadChar()
    {
        char c;
        if (_pushback is not null && _pushbackPos < _pushback.Length)
        {
            c = _pushback[_pushbackPos++];
        }
        else
        {
            if (_pos >= _len && !Fill()) return -1;
            c = _buffer[_pos++];
        }
        _raw.Append(c);
        if (c == '\n') _line++;
        else if (c == '\r' && Peek() != '\n') _line++;
        return c;
    }

    private bool Fill()
    {
        _len = reader.Read(_buffer, 0, _buffer.Length);
        _pos = 0;
        return _len > 0;
    }
}
