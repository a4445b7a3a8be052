using MaMA.Interop.Torch.Parity;

namespace MaMA.Engine.Tests.Parity;

/// <summary>Compares an engine result with a reference, naming the worst tensor on failure.</summary>
internal static class ParityAssert
{
    public static void Matches(OpCase c, string device, OpResult actual, OpResult expected)
    {
        Assert.That(actual.OutputShape, Is.EqualTo(expected.OutputShape), $"{c.Name} on {device}: output shape");
        var report = new List<(string Tensor, double Error, double Tolerance)>
        {
            ("output", OpResult.RelativeError(actual.Output, expected.Output), c.Tolerance),
        };
        foreach ((string name, float[] g) in expected.Grads)
        {
            Assert.That(actual.Grads.ContainsKey(name), $"{c.Name} on {device}: no gradient for input '{name}'");
            double floor = c.Inputs.First(i => i.Name == name).GradFloor;
            report.Add(("grad." + name, OpResult.RelativeError(actual.Grads[name], g, floor), Math.Max(c.GradTolerance, c.Tolerance)));
            // A scalar's values say more than its relative error when it fails (a near-zero sum of large terms, say).
            if (g.Length <= 4) TestContext.Out.WriteLine($"grad.{name}: engine {string.Join(", ", actual.Grads[name])}, libtorch {string.Join(", ", g)}");
        }
        var failures = report.Where(r => !(r.Error <= r.Tolerance)).ToList();
        string table = string.Join("\n", report.Select(r => $"  {r.Tensor,-16} rel.err {r.Error:E2} (tol {r.Tolerance:E0}){(r.Error <= r.Tolerance ? "" : "  FAIL")}"));
        Assert.That(failures, Is.Empty, $"{c.Name} on {device}: largest relative error {report.Max(r => r.Error):E2} in " +
            $"{report.MaxBy(r => r.Error).Tensor}\n{table}");
    }
}
