using System.Diagnostics;
using MaMA.Bench.Cases;
using TorchSharp;
using Device = MaMA.Engine.Devices.Device;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// One measured row: medians in milliseconds (torch columns null when not compared); family, dtype
/// and FLOPs per run are known for the kernel-family cases and null for <see cref="OpCase"/>s.
/// </summary>
public sealed record BenchRow(string Op, double EngineForwardMs, double EngineForwardBackwardMs, double? TorchForwardMs, double? TorchForwardBackwardMs,
    string? Family = null, string? Dtype = null, long? ForwardFlops = null, long? ForwardBackwardFlops = null)
{
    /// <summary>The report row (adds the engine's TFLOP/s where FLOPs are known).</summary>
    public BenchResult ToResult() => new(Op, Family, Dtype, EngineForwardMs, EngineForwardBackwardMs, TorchForwardMs, TorchForwardBackwardMs, ForwardFlops, ForwardBackwardFlops);
}

/// <summary>
/// Times cases forward and forward+backward in the engine (on a device, through
/// <see cref="EngineTimer"/>) and, optionally, in TorchSharp (libtorch on this CPU) in the same
/// process: one warm-up, then the median of <c>repeat</c> runs. Inputs and the upstream gradient are
/// made outside the timed region on both sides, from the same host values. Two case lists: the
/// parity catalog's <see cref="OpCase"/>s (MaMA.Bench's base ops) and the torch-free
/// <see cref="BenchCase"/>s of the kernel families (`mama bench ops --vs torch`), whose libtorch
/// computations come from <see cref="FamilyBench.Torch"/>.
/// </summary>
public sealed class BenchRunner(Device device, int repeat, bool compareTorch, TextWriter output)
{
    /// <summary>A case ready to time: its row name, FLOPs and the two timed computations (argument: with backward).</summary>
    private sealed record Prepared(string Name, BenchCase? Family, Func<bool, double> Engine, Func<bool, double> Torch);

    public IReadOnlyList<BenchRow> Run(IEnumerable<OpCase> cases, string? only = null) =>
        Measure(cases.Where(c => only is null || c.Name.Contains(only, StringComparison.OrdinalIgnoreCase)).Select(c =>
        {
            OpData data = OpData.Generate(c, EngineBench.Seed);
            bool[] differentiable = c.Inputs.Select(i => i.Differentiable).ToArray();
            return new Prepared(c.Name, null,
                backward => EngineTimer.Time(device, c.Engine, i => data.EngineInput(i, device), differentiable, backward),
                backward => TimeTorch(c.Torch, data.TorchInput, differentiable, backward));
        }));

    public IReadOnlyList<BenchRow> Run(IEnumerable<BenchCase> cases, string? only = null) =>
        Measure(EngineBench.Filter(cases, only).Select(c =>
        {
            BenchData data = BenchData.Generate(c, EngineBench.Seed);
            bool[] differentiable = c.Inputs.Select(i => i.Differentiable).ToArray();
            Func<TorchTensor[], TorchTensor> reference = FamilyBench.Torch(c);
            return new Prepared(c.Name, c,
                backward => EngineTimer.Time(device, c.Engine, i => data.EngineInput(i, device), differentiable, backward),
                backward => TimeTorch(reference, i => FamilyBench.TorchInput(data, i), differentiable, backward));
        }));

    /// <summary>Writes the rows with the machine description as JSON (atomically); <paramref name="shapes"/> names the family shapes.</summary>
    public void WriteJson(string path, IReadOnlyList<BenchRow> rows, BenchShapes? shapes = null) =>
        BenchReport.Create(device.Name, compareTorch ? torch.__version__ : null, compareTorch ? torch.get_num_threads() : null, repeat, shapes,
            rows.Select(r => r.ToResult()).ToArray()).Write(path);

    private List<BenchRow> Measure(IEnumerable<Prepared> cases)
    {
        var console = new BenchConsole(output, compareTorch);
        console.Header($"engine: {device.Name}" + (compareTorch ? $"; torch {torch.__version__} on {torch.get_num_threads()} CPU threads" : "") + $"; median of {repeat} after 1 warm-up");
        var rows = new List<BenchRow>();
        foreach (Prepared c in cases)
        {
            double ef = EngineTimer.Median(repeat, () => c.Engine(false));
            double eb = EngineTimer.Median(repeat, () => c.Engine(true));
            double? tf = compareTorch ? EngineTimer.Median(repeat, () => c.Torch(false)) : null;
            double? tb = compareTorch ? EngineTimer.Median(repeat, () => c.Torch(true)) : null;
            var row = new BenchRow(c.Name, ef * 1e3, eb * 1e3, tf * 1e3, tb * 1e3, c.Family?.Family, c.Family?.DTypeName, c.Family?.ForwardFlops, c.Family?.ForwardBackwardFlops);
            rows.Add(row);
            console.Row(row.ToResult());
        }
        console.Footer();
        return rows;
    }

    /// <summary>Seconds of one libtorch run; inputs and the upstream gradient (ones) are made before the clock starts.</summary>
    private static double TimeTorch(Func<TorchTensor[], TorchTensor> reference, Func<int, TorchTensor> makeInput, IReadOnlyList<bool> differentiable, bool backward)
    {
        using var scope = torch.NewDisposeScope();
        TorchTensor[] inputs = differentiable.Select((d, i) =>
        {
            TorchTensor t = makeInput(i);
            if (backward && d) t.requires_grad_(true);
            return t;
        }).ToArray();
        TorchTensor? seed = null;
        if (backward)
            using (torch.no_grad())
                seed = torch.ones_like(reference(inputs));
        var sw = Stopwatch.StartNew();
        TorchTensor y = reference(inputs);
        if (backward) y.backward([seed!]);
        return sw.Elapsed.TotalSeconds;
    }
}
