using System.Runtime.CompilerServices;

namespace MaMA.Training.Tests;

/// <summary>Repository paths and scratch folders for the tests.</summary>
internal static class TestPaths
{
    /// <summary>
    /// The folder holding MaMA.Engine.sln, found by walking up from the test output directory, then
    /// from the working directory, then (build output outside the repository, --artifacts-path) from
    /// this source file's compile-time folder. CI builds with ContinuousIntegrationBuild, which maps
    /// [CallerFilePath] to "/_/", so that one is only a last resort.
    /// </summary>
    public static string RepoRoot([CallerFilePath] string sourceFile = "")
    {
        var starts = new List<string> { TestContext.CurrentContext.TestDirectory, Environment.CurrentDirectory };
        if (Path.IsPathFullyQualified(sourceFile)) starts.Add(Path.GetDirectoryName(sourceFile)!);
        foreach (string start in starts)
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "MaMA.Engine.sln"))) return d.FullName;
        Assert.Fail($"cannot find the repository (no MaMA.Engine.sln above {string.Join(" or ", starts)})");
        return null!;
    }

    public static string Configs => Path.Combine(RepoRoot(), "configs");

    /// <summary>A fresh empty folder under the temp directory (removed by the caller's TearDown or left for the OS).</summary>
    public static string NewScratch(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "mama-training-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
