using MaMA.Bench;
using MaMA.Engine.Devices;
using MaMA.Interop.Torch.Parity;
using TorchSharp;

// dotnet run --project tools/MaMA.Bench -c Release -- ops [--repeat N] [--threads N] [--json FILE] [--only TEXT]
// Times every base op forward and forward+backward in the engine (fast CPU backend) and in
// TorchSharp (libtorch) on the same CPU in one process (BenchRunner: warm-up, medians, ratio =
// torch time / engine time, > 1 means the engine is faster). The kernel families at MaMA's shapes
// are `mama bench ops --vs torch`.
const string Usage = "usage: MaMA.Bench ops [--repeat N] [--threads N] [--json FILE] [--only TEXT]";
if (args.Length == 0 || args[0] != "ops")
{
    Console.Error.WriteLine(Usage);
    return 2;
}
int repeat = 5, threads = Environment.ProcessorCount;
string? json = null, only = null;
for (int i = 1; i < args.Length; i += 2)
{
    string name = args[i];
    string? value = i + 1 < args.Length ? args[i + 1] : null;
    if (name is not ("--repeat" or "--threads" or "--json" or "--only"))
        return Fail($"unknown option '{name}'");
    if (value is null) return Fail($"{name} needs a value");
    switch (name)
    {
        case "--repeat" when !int.TryParse(value, out repeat) || repeat < 1:
            return Fail($"--repeat takes a whole number of timed runs, at least 1, not '{value}'");
        case "--threads" when !int.TryParse(value, out threads) || threads < 1:
            return Fail($"--threads takes a whole number, at least 1, not '{value}'");
        case "--json":
            json = value;
            break;
        case "--only":
            only = value;
            break;
    }
}
List<OpCase> cases = BenchCases.All().ToList();
if (only is not null && !cases.Any(c => c.Name.Contains(only, StringComparison.OrdinalIgnoreCase)))
    return Fail($"--only '{only}' matches no case; the cases are:\n  {string.Join("\n  ", cases.Select(c => c.Name))}");
torch.set_num_threads(threads);
var runner = new BenchRunner(Device.Cpu, repeat, compareTorch: true, Console.Out);
IReadOnlyList<BenchRow> rows = runner.Run(cases, only);
if (json is not null)
{
    runner.WriteJson(json, rows);
    Console.WriteLine($"wrote {json}");
}
return 0;

int Fail(string message)
{
    Console.Error.WriteLine($"MaMA.Bench ops: {message}.\n{Usage}");
    return 2;
}
