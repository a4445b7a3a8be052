namespace MaMA.Tests.Shared;

/// <summary>
/// One test run's scratch folders: every folder a kit makes lies under one folder per process,
/// <c>{temp}/{area}/run-{pid}-{id}</c>, which the assembly's <c>[SetUpFixture]</c> deletes when its
/// tests end (<see cref="Finish"/>), so repeated runs do not pile up in the temp directory. When a
/// test failed, the folder is kept and its path printed, to look into. Linked into each test project
/// that needs it.
/// </summary>
internal static class ScratchRun
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, string> Roots = new(StringComparer.Ordinal);

    /// <summary>A fresh empty folder <paramref name="name"/> (made unique) in this run's folder of <paramref name="area"/>.</summary>
    public static string NewFolder(string area, string name)
    {
        string dir = Path.Combine(Root(area), name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Deletes this run's folders (each area's), or keeps them and says where when <paramref name="keep"/>.</summary>
    public static void Finish(bool keep)
    {
        lock (Gate)
        {
            foreach (string root in Roots.Values)
            {
                if (!Directory.Exists(root)) continue;
                if (keep)
                {
                    TestContext.Progress.WriteLine($"scratch folders kept for the failed tests: {root}");
                    continue;
                }
                try
                {
                    Directory.Delete(root, recursive: true);
                }
                catch (IOException e)
                {
                    TestContext.Progress.WriteLine($"could not delete {root}: {e.Message}");
                }
                catch (UnauthorizedAccessException e)
                {
                    TestContext.Progress.WriteLine($"could not delete {root}: {e.Message}");
                }
            }
            Roots.Clear();
        }
    }

    private static string Root(string area)
    {
        lock (Gate)
        {
            if (!Roots.TryGetValue(area, out string? root))
                Roots[area] = root = Path.Combine(Path.GetTempPath(), area, $"run-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
            return root;
        }
    }
}
