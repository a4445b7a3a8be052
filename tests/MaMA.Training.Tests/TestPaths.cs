using System.Runtime.CompilerServices;

namespace MaMA.Training.Tests;

/// <summary>Repository paths and scratch folders for the tests.</summary>
internal static class TestPaths
{
    /// <summary>The folder holding MaMA.Engine.sln (<see cref="MaMA.Tests.Shared.RepositoryRoot"/>).</summary>
    public static string RepoRoot([CallerFilePath] string sourceFile = "") => MaMA.Tests.Shared.RepositoryRoot.Find(sourceFile);

    public static string Configs => Path.Combine(RepoRoot(), "configs");

    /// <summary>A fresh empty folder in this run's scratch folder (deleted when the run ends, <see cref="ScratchCleanup"/>).</summary>
    public static string NewScratch(string name) => global::MaMA.Tests.Shared.ScratchRun.NewFolder("mama-training-tests", name);
}
