using System.Diagnostics;
using System.Text.Json;
using MaMA.Engine.Autograd;
using TorchSharp;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>One measured row: medians in milliseconds (torch columns null when not compared).</summary>
public sealed record BenchRow(string Op, double EngineForwardMs, double EngineForwardBackwardMs, double? TorchForwardMs, double? TorchForwardBackwardMs);

/// <summary>
/// Times <see cref="OpCase"/>s forward and forward+backward in the engine (on a device) and,
/// optionally, in TorchSharp (libtorch on this CPU) in the same process: one warm-up, then the
/// median of <c>repeat</c> runs with the device synchronised. Inputs and the upstream gradient are
/// made outside the timed region on both sides; engine tensors are disposed after each run so the
/// caching allocator reuses memory as a training step would.
/// </summary>
public sealed class BenchRunner(Device device, int repeat, bool compareTorch, TextWriter output)
{
    public IReadOnlyList<BenchRow> Run(IEnumerable<OpCase> cases, string? only = null)
    {
        output.WriteLine($"engine: {device.Name}" + (compareTorch ? $"; torch {torch.__version__} on {torch.get_num_threads()} CPU threads" : "") + $"; median of {repeat} after 1 warm-up");
        output.WriteLine(compareTorch
            ? $"{"op",-48} {"engine fwd",11} {"torch fwd",11} {"ratio",6} {"engine f+b",11} {"torch f+b",11} {"ratio",6}"
            : $"{"op",-48} {"engine fwd",11} {"engine f+b",11}");
        var rows = new List<BenchRow>();
        foreach (OpCase c in cases)
        {
            if (only is not null && !c.Name.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
            OpData data = OpData.Generate(c, 7);
            double ef = Median(() => TimeEngine(c, data, backward: false));
            double eb = Median(() => TimeEngine(c, data, backward: true));
            double? tf = compareTorch ? Median(() => TimeTorch(c, data, backward: false)) : null;
            double? tb = compareTorch ? Median(() => TimeTorch(c, data, backward: true)) : null;
            var row = new BenchRow(c.Name, ef * 1e3, eb * 1e3, tf * 1e3, tb * 1e3);
            rows.Add(row);
            output.WriteLine(compareTorch
                ? $"{c.Name,-48} {Ms(ef),11} {Ms(tf!.Value),11} {tf / ef,6:F2} {Ms(eb),11} {Ms(tb!.Value),11} {tb / eb,6:F2}"
                : $"{c.Name,-48} {Ms(ef),11} {Ms(eb),11}");
        }
        if (compareTorch) output.WriteLine("ratio = torch time / engine time (> 1: the engine is faster)");
        return rows;
    }

    /// <summary>Writes the rows with the machine description as JSON (atomically).</summary>
    public void WriteJson(string path, IReadOnlyList<BenchRow> rows)
    {
        string json = JsonSerializer.Serialize(new
        {
            device = device.Name,
            torch = compareTorch ? torch.__version__ : null,
            torch_threads = compareTorch ? torch.get_num_threads() : (int?)null,
            repeat,
            date = DateTime.UtcNow.ToString("yyyy-MM-dd"),
            rows,
        }, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, json);
        File.Move(tmp, path, overwrite: true);
    }

    private double Median(Func<double> run)
    {
        run(); // warm-up: JIT, kernel loading, allocator caches
        double[] times = Enumerable.Range(0, repeat).Select(_ => run()).Order().ToArray();
        return times[times.Length / 2];
    }

    private double TimeEngine(OpCase c, OpData data, bool backward)
    {
        EngineTensor[] inputs = c.Inputs.Select((spec, i) =>
        {
            EngineTensor t = data.EngineInput(i, device);
            if (backward && spec.Differentiable) t.RequiresGrad = true;
            return t;
        }).ToArray();
        EngineTensor? seed = null;
        if (backward)
            using (GradMode.NoGrad())
            {
                EngineTensor probe = c.Engine(inputs);
                seed = EngineTensor.Full(probe.Shape, 1f, device);
                probe.Dispose();
            }
        device.Synchronize();
        var sw = Stopwatch.StartNew();
        EngineTensor y = c.Engine(inputs);
        if (backward && y.RequiresGrad) y.Backward(seed);
        device.Synchronize();
        double seconds = sw.Elapsed.TotalSeconds;
        seed?.Dispose();
        y.Dispose();
        foreach (EngineTensor t in inputs)
        {
            t.Grad?.Dispose();
            t.Dispose();
        }
        return seconds;
    }

    private static double TimeTorch(OpCase c, OpData data, bool backward)
    {
        using var scope = torch.NewDisposeScope();
        TorchTensor[] inputs = c.Inputs.Select((spec, i) =>
        {
            TorchTensor t = data.TorchInput(i);
            if (backward && spec.Differentiable) t.requires_grad_(true);
            return t;
        }).ToArray();
        TorchTensor? seed = null;
        if (backward)
            using (torch.no_grad())
                seed = torch.ones_like(c.Torch(inputs));
        var sw = Stopwatch.StartNew();
        TorchTensor y = c.Torch(inputs);
        if (backward) y.backward([seed!]);
        return sw.Elapsed.TotalSeconds;
    }

    private static string Ms(double seconds) => $"{seconds * 1e3:F2} ms";
}
