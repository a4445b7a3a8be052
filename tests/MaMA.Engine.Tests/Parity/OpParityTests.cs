using MaMA.Engine.Devices;
using MaMA.Interop.Torch.Parity;

namespace MaMA.Engine.Tests.Parity;

/// <summary>
/// Live parity: every base op, forward and backward, against libtorch with fresh random inputs
/// (a new seed per run, printed so a failure can be replayed with MAMA_PARITY_SEED), on the fast
/// CPU backend and on the ILGPU CPU simulator (which runs the same kernels the GPU gets).
/// </summary>
[TestFixture]
public sealed class OpParityTests
{
    private static readonly int Seed = Environment.GetEnvironmentVariable("MAMA_PARITY_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();

    public static IEnumerable<TestCaseData> Cases() =>
        from c in OpCatalog.All
        from device in new[] { "cpu", "ilgpu-cpu" }
        select new TestCaseData(c.Name, device).SetName($"{c.Name} [{device}]");

    [TestCaseSource(nameof(Cases))]
    public void MatchesLibTorch(string caseName, string deviceName)
    {
        OpCase c = OpCatalog.Get(caseName);
        Device device = Device.Parse(deviceName);
        TestContext.Out.WriteLine($"seed {Seed} (replay with MAMA_PARITY_SEED={Seed})");
        OpData data = OpData.Generate(c, Seed);
        OpResult expected = ParityRunner.RunTorch(c, data, shape => ParityRunner.Upstream(shape, Seed));
        OpResult actual = ParityRunner.RunEngine(c, data, device, shape => ParityRunner.Upstream(shape, Seed));
        ParityAssert.Matches(c, deviceName, actual, expected);
    }

    [Test]
    public void CatalogCoversEveryBaseOpFamily()
    {
        string[] required =
        [
            "matmul", "add_broadcast", "mul_broadcast", "sum_axis", "mean_all", "max_axis", "relu", "gelu_erf", "gelu_tanh",
        ];
        Assert.That(OpCatalog.All.Select(c => c.Name), Is.SupersetOf(required));
    }
}
