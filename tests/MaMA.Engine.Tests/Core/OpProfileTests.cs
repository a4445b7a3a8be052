using MaMA.Engine.Diagnostics;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Tests.Core;

/// <summary>MAMA_PROFILE's rows: dispatch sites by file and method, node backwards by name, the CSV.</summary>
[TestFixture]
[NonParallelizable] // the profile is process-wide
public sealed class OpProfileTests
{
    [Test]
    public void RowsNameDispatchSitesAndBackwards()
    {
        using (OpProfile.EnableForTest())
        {
            Tensor x = Tensor.FromArray([0.5f, -1f, 2f], [3]);
            x.RequiresGrad = true;
            Tensor y = Engine.Ops.Gelu(x);
            Engine.Ops.Sum(Engine.Ops.Gelu(y)).Backward();
            var rows = OpProfile.Snapshot().ToDictionary(r => r.Key);
            Assert.That(rows["op Activations.cs:Gelu"].Calls, Is.EqualTo(2));
            Assert.That(rows["backward gelu_erf"].Calls, Is.EqualTo(2));
            Assert.That(rows["op Activations.cs:Backward"].Calls, Is.EqualTo(2), "the two GELU backward kernels");
            Assert.That(rows.Keys, Has.Some.StartsWith("backward sum"));
            Assert.That(rows.Values.All(r => r.TotalMs >= 0 && r.MaxMs <= r.TotalMs + 1e-9), Is.True);

            string csv = Path.Combine(Path.GetTempPath(), $"mama-profile-{Guid.NewGuid():N}.csv");
            try
            {
                OpProfile.Write(csv);
                string[] lines = File.ReadAllLines(csv);
                Assert.That(lines[0], Is.EqualTo("kind,site,calls,total_ms,mean_ms,max_ms"));
                Assert.That(lines, Has.Some.StartsWith("op,Activations.cs:Gelu,2,"));
                Assert.That(lines, Has.Some.StartsWith("backward,gelu_erf,2,"));
            }
            finally
            {
                File.Delete(csv);
            }
        }
        Assert.That(OpProfile.Enabled, Is.False, "off again after the scope (MAMA_PROFILE is not set in tests)");
    }
}
