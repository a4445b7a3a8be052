using MaMA.GoldenGen;

// MaMA.GoldenGen: writes the golden reference files under golden/ from TorchSharp (libtorch)
// computations. The regression tests only read them.
//
//   dotnet run --project tools/MaMA.GoldenGen -- ops [--out golden/ops] [--seed 1234] [--only NAME,...]
try
{
    NumericalReproducibility.Pin(); // before libtorch loads: reruns give byte-identical files
    return Cli.Run(args, Console.Out, Console.Error);
}
catch (GoldenGenException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 1;
}
