namespace MaMA.Training.Tests;

/// <summary>Repository paths and scratch folders for the tests.</summary>
internal static class TestPaths
{
    /// <summary>
    /// The folder holding MaMA.Engine.sln, found by walking up from the test output directory and
    /// then from the working directory. Not from [CallerFilePath]: CI builds with
    /// ContinuousIntegrationBuild, which maps source paths to "/_/".
    /// </summary>
    public static string RepoRoot()
    {
        foreach (string start in new[] { TestContext.CurrentContext.TestDirectory, Environment.CurrentDirectory })
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "MaMA.Engine.sln"))) return d.FullName;
        Assert.Fail($"cannot find the repository (no MaMA.Engine.sln above {TestContext.CurrentContext.TestDirectory} or {Environment.CurrentDirectory})");
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
