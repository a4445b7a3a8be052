using System.Runtime.CompilerServices;

namespace MaMA.Generators.Tests.Infrastructure;

/// <summary>
/// Compares generated text with files under Expected/ (copied to the output directory).
/// Set MAMA_UPDATE_EXPECTED=1 to rewrite the files in the source tree from the actual output.
/// </summary>
public static class ExpectedFiles
{
    public static void AssertMatches(string expectedFileName, string actual, [CallerFilePath] string callerPath = "")
    {
        if (Environment.GetEnvironmentVariable("MAMA_UPDATE_EXPECTED") == "1")
        {
            string sourceDir = Path.Combine(ProjectDirectory(callerPath), "Expected");
            Directory.CreateDirectory(sourceDir);
            File.WriteAllText(Path.Combine(sourceDir, expectedFileName), actual);
            Assert.Warn($"Rewrote Expected/{expectedFileName}; rerun without MAMA_UPDATE_EXPECTED.");
            return;
        }

        string path = Path.Combine(TestContext.CurrentContext.TestDirectory, "Expected", expectedFileName);
        Assert.That(File.Exists(path), Is.True, $"Missing expected file {path}.");
        string expected = File.ReadAllText(path);
        if (expected == actual) return;
        Assert.Fail(Describe(expectedFileName, expected, actual));
    }

    /// <summary>A short report of the first differing line, with context, for a failed comparison.</summary>
    public static string Describe(string name, string expected, string actual)
    {
        string[] e = expected.Split('\n');
        string[] a = actual.Split('\n');
        int line = 0;
        while (line < e.Length && line < a.Length && e[line] == a[line]) line++;

        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"Generated output differs from Expected/{name} at line {line + 1} " +
                      $"(expected {e.Length} lines, actual {a.Length}).");
        if (expected.Contains('\r') != actual.Contains('\r'))
            sb.AppendLine("Line endings differ (CRLF vs LF): check .gitattributes / core.autocrlf.");
        for (int i = Math.Max(0, line - 2); i < line; i++)
            sb.AppendLine($"  {i + 1,4}   {e[i]}");
        sb.AppendLine($"  {line + 1,4} - {(line < e.Length ? Show(e[line]) : "<end of file>")}");
        sb.AppendLine($"  {line + 1,4} + {(line < a.Length ? Show(a[line]) : "<end of file>")}");
        sb.AppendLine("Set MAMA_UPDATE_EXPECTED=1 to accept the new output. Full actual output:");
        sb.Append(actual);
        return sb.ToString();
    }

    private static string Show(string line) => line.Replace("\r", "\\r").Replace("\t", "\\t");

    private static string ProjectDirectory(string callerPath)
    {
        for (string? dir = Path.GetDirectoryName(callerPath); dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "MaMA.Generators.Tests.csproj"))) return dir;
        throw new InvalidOperationException("Cannot find the test project directory from " + callerPath);
    }
}
