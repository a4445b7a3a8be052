using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace MaMA.Distributed.Tests;

/// <summary>
/// Starts the real `mama` CLI (mama.dll next to the tests) as one process or under
/// `mpirun -np N --oversubscribe`, and reads what it leaves in a run folder: the losses of
/// metrics.jsonl and the fp32 tensors of a safetensors file.
/// </summary>
internal static class CliRun
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    private static string MamaDll => Path.Combine(AppContext.BaseDirectory, "mama.dll");

    /// <summary>`dotnet mama.dll args` (ranks 1) or `mpirun -np ranks dotnet mama.dll args`.</summary>
    public static Result Mama(int ranks, params string[] args)
    {
        Assert.That(File.Exists(MamaDll), $"{MamaDll} is missing (the test project references src/MaMA.Cli)");
        string program = ranks == 1 ? "dotnet" : CheckRun.MpirunPath();
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        IEnumerable<string> all = ranks == 1 ? [MamaDll, .. args] : ["--oversubscribe", "-np", ranks.ToString(), "dotnet", MamaDll, .. args];
        foreach (string a in all) start.ArgumentList.Add(a);
        CheckRun.SetMpiEnvironment(start);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mama {string.Join(' ', args)} on {ranks} rank(s) did not finish in 3 minutes.\n{stdout.Result}\n{stderr.Result}");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The "train" lines of metrics.jsonl: step -> loss.</summary>
    public static SortedDictionary<long, double> Losses(string runDir)
    {
        var losses = new SortedDictionary<long, double>();
        foreach (string line in File.ReadLines(Path.Combine(runDir, "metrics.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.GetProperty("kind").GetString() != "train") continue;
            long step = doc.RootElement.GetProperty("step").GetInt64();
            Assert.That(losses.ContainsKey(step), Is.False, $"step {step} is logged twice in {runDir}/metrics.jsonl (only rank 0 may write it)");
            losses[step] = doc.RootElement.GetProperty("loss").GetDouble();
        }
        return losses;
    }

    /// <summary>The F32 tensors of a safetensors file (8-byte header length, JSON header, raw little-endian data).</summary>
    public static Dictionary<string, float[]> Tensors(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long n = BitConverter.ToInt64(bytes, 0);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, checked((int)n)));
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (JsonProperty t in header.RootElement.EnumerateObject())
        {
            if (t.Name == "__metadata__" || t.Value.GetProperty("dtype").GetString() != "F32") continue;
            long begin = t.Value.GetProperty("data_offsets")[0].GetInt64(), end = t.Value.GetProperty("data_offsets")[1].GetInt64();
            var values = new float[(end - begin) / 4];
            Buffer.BlockCopy(bytes, checked((int)(8 + n + begin)), values, 0, values.Length * 4);
            result[t.Name] = values;
        }
        return result;
    }

    /// <summary>Per tensor max |a - b| / max |a| over the tensors both files hold; the worst first.</summary>
    public static List<(string Name, double Error)> RelativeErrors(Dictionary<string, float[]> a, Dictionary<string, float[]> b)
    {
        var errors = new List<(string, double)>();
        foreach ((string name, float[] x) in a)
        {
            if (!b.TryGetValue(name, out float[]? y)) continue;
            Assert.That(y, Has.Length.EqualTo(x.Length), name);
            double diff = 0, scale = 1e-30;
            for (int i = 0; i < x.Length; i++)
            {
                diff = Math.Max(diff, Math.Abs((double)x[i] - y[i]));
                scale = Math.Max(scale, Math.Abs((double)x[i]));
            }
            errors.Add((name, diff / scale));
        }
        return errors.OrderByDescending(e => e.Item2).ToList();
    }
}
