using System.Runtime.CompilerServices;

namespace MaMA.Training.Tests;

/// <summary>Repository paths and scratch folders for the tests.</summary>
internal static class TestPaths
{
    /// <summary>The folder holding MaMA.Engine.sln (<see cref="MaMA.Tests.Shared.RepositoryRoot"/>).</summary>
    public static string RepoRoot([CallerFilePath] string sourceFile = "") => MaMA.Tests.Shared.RepositoryRoot.Find(sourceFile);

    public static string Configs => Path.Combine(RepoRoot(), "configs");

    /// <summary>A fresh empty folder under the temp directory (removed by the caller's TearDown or left for the OS).</summary>
    public static string NewScratch(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "mama-training-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
