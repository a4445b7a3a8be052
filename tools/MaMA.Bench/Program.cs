using MaMA.Bench;
using MaMA.Engine.Devices;
using MaMA.Interop.Torch.Parity;
using TorchSharp;

// dotnet run --project tools/MaMA.Bench -c Release -- ops [--repeat N] [--threads N] [--json FILE] [--only TEXT]
// Times every base op forward and forward+backward in the engine (fast CPU backend) and in
// TorchSharp (libtorch) on the same CPU in one process (BenchRunner: warm-up, medians, ratio =
// torch time / engine time, > 1 means the engine is faster). The kernel families at MaMA's shapes
// are `mama bench ops --vs torch`.
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
var runner = new BenchRunner(Device.Cpu, repeat, compareTorch: true, Console.Out);
IReadOnlyList<BenchRow> rows = runner.Run(BenchCases.All(), only);
if (json is not null)
{
    runner.WriteJson(json, rows);
    Console.WriteLine($"wrote {json}");
}
return 0;

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
