namespace MaMA.Tests.Shared;

/// <summary>
/// The folder holding MaMA.Engine.sln, for tests that read repository files (configs/, golden/).
/// Linked into each test project that needs it.
/// </summary>
internal static class RepositoryRoot
{
    /// <summary>
    /// Walks up from the test output directory, then the working directory, then (build output
    /// outside the repository, --artifacts-path) the caller's compile-time source folder. CI builds
    /// with ContinuousIntegrationBuild, which maps [CallerFilePath] to "/_/", so that one is only a
    /// last resort.
    /// </summary>
    public static string Find(string sourceFile)
    {
        var starts = new List<string> { TestContext.CurrentContext.TestDirectory, Environment.CurrentDirectory };
        if (Path.IsPathFullyQualified(sourceFile)) starts.Add(Path.GetDirectoryName(sourceFile)!);
        foreach (string start in starts)
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "MaMA.Engine.sln"))) return d.FullName;
        Assert.Fail($"cannot find the repository (no MaMA.Engine.sln above {string.Join(" or ", starts)})");
        return null!;
    }
}
