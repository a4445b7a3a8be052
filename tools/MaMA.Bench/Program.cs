using System.Diagnostics;
using System.Text.Json;
using MaMA.Bench;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Interop.Torch.Parity;
using TorchSharp;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

// dotnet run --project tools/MaMA.Bench -c Release -- ops [--repeat N] [--threads N] [--json FILE] [--only TEXT]
// Times every base op forward and forward+backward in the engine (fast CPU backend) and in
// TorchSharp (libtorch) on the same CPU in one process, after a warm-up, and prints medians
// and the speed ratio (TorchSharp time / engine time: > 1 means the engine is faster).
if (args.Length == 0 || args[0] != "ops")
{
    Console.Error.WriteLine("usage: MaMA.Bench ops [--repeat N] [--threads N] [--json FILE] [--only TEXT]");
    return 2;
}
int repeat = Option("--repeat", 5);
int threads = Option("--threads", Environment.ProcessorCount);
string? json = OptionText("--json");
string? only = OptionText("--only");
torch.set_num_threads(threads);
Console.WriteLine($"engine: {Device.Cpu.Name}; torch {torch.__version__} with {torch.get_num_threads()} threads; median of {repeat} after 1 warm-up");
Console.WriteLine($"{"op",-44} {"engine fwd",11} {"torch fwd",11} {"ratio",6} {"engine f+b",11} {"torch f+b",11} {"ratio",6}");
var rows = new List<object>();
foreach (OpCase c in BenchCases.All())
{
    if (only is not null && !c.Name.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
    OpData data = OpData.Generate(c, 7);
    double ef = Median(() => TimeEngine(c, data, backward: false));
    double tf = Median(() => TimeTorch(c, data, backward: false));
    double eb = Median(() => TimeEngine(c, data, backward: true));
    double tb = Median(() => TimeTorch(c, data, backward: true));
    Console.WriteLine($"{c.Name,-44} {Ms(ef),11} {Ms(tf),11} {tf / ef,6:F2} {Ms(eb),11} {Ms(tb),11} {tb / eb,6:F2}");
    rows.Add(new { op = c.Name, engine_forward_ms = ef * 1e3, torch_forward_ms = tf * 1e3, engine_fwd_bwd_ms = eb * 1e3, torch_fwd_bwd_ms = tb * 1e3 });
}
if (json is not null)
{
    File.WriteAllText(json, JsonSerializer.Serialize(new { device = Device.Cpu.Name, torch = torch.__version__, threads, repeat, rows }, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {json}");
}
return 0;

double Median(Func<double> run)
{
    run(); // warm-up: JIT, kernel loading, allocator caches
    var times = Enumerable.Range(0, repeat).Select(_ => run()).Order().ToArray();
    return times[times.Length / 2];
}

static double TimeEngine(OpCase c, OpData data, bool backward)
{
    var inputs = c.Inputs.Select((spec, i) =>
    {
        EngineTensor t = data.EngineInput(i, Device.Cpu);
        if (backward && spec.Differentiable) t.RequiresGrad = true;
        return t;
    }).ToArray();
    // The upstream gradient is made outside the timed region (on both sides): its shape is the
    // output's, so one untimed forward tells it.
    EngineTensor? seed = null;
    if (backward)
        using (MaMA.Engine.Autograd.GradMode.NoGrad())
        {
            EngineTensor probe = c.Engine(inputs);
            seed = EngineTensor.Full(probe.Shape, 1f);
            probe.Dispose();
        }
    var sw = Stopwatch.StartNew();
    EngineTensor y = c.Engine(inputs);
    if (backward && y.RequiresGrad) y.Backward(seed);
    double seconds = sw.Elapsed.TotalSeconds;
    seed?.Dispose();
    // Hand the memory back to the caching allocator now (as a training step does), instead of
    // leaving it to finalizers: otherwise every run pays for fresh pages.
    y.Dispose();
    foreach (EngineTensor t in inputs)
    {
        t.Grad?.Dispose();
        t.Dispose();
    }
    return seconds;
}

static double TimeTorch(OpCase c, OpData data, bool backward)
{
    using var scope = torch.NewDisposeScope();
    var inputs = c.Inputs.Select((spec, i) =>
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

static string Ms(double seconds) => $"{seconds * 1e3:F2} ms";

int Option(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int v) ? v : fallback;
}

string? OptionText(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
