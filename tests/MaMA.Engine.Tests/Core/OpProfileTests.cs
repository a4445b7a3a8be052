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

    /// <summary>
    /// The bf16 products' tensor-core paths, which bypass the per-backend dispatch, still have op rows:
    /// a profiled bf16 step on a GPU shows its GEMMs and the attention backward's kernels.
    /// </summary>
    [Test]
    public void TensorCorePathsHaveRows()
    {
        var sim = Devices.Device.Parse("ilgpu-cpu");
        var rng = new Random(5);
        Tensor Make(int[] shape, DType dtype, bool grad = false)
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            Tensor t = Tensor.FromArray(Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray(), shape, sim).To(dtype);
            t.RequiresGrad = grad;
            return t;
        }
        using (OpProfile.EnableForTest())
        {
            Tensor a = Make([16, 32], DType.BFloat16, grad: true);
            Engine.Ops.Sum(Engine.Ops.MatMul(a, Make([32, 8], DType.BFloat16))).Backward();
            Engine.Ops.LoraLinear(Make([4, 16], DType.BFloat16), Make([16, 8], DType.BFloat16), null,
                Make([2, 16], DType.BFloat16), Make([8, 2], DType.BFloat16), 2f, WeightLayout.Conv1D);
            Tensor q = Make([1, 2, 16, 64], DType.BFloat16, grad: true);
            Engine.Ops.Sum(Engine.Ops.Attention(q, Make([1, 2, 16, 64], DType.BFloat16), Make([1, 2, 16, 64], DType.BFloat16), null, causal: false, 0.125f)).Backward();
            var rows = OpProfile.Snapshot().ToDictionary(r => r.Key);
            Assert.That(rows, Does.ContainKey("op TensorCorePath.cs:TensorCoreMatMul"));
            // The forward, and the backward's dA = dy B^T (a frozen B needs no second product).
            Assert.That(rows["op TensorCorePath.cs:TensorCoreMatMul"].Calls, Is.EqualTo(2));
            Assert.That(rows["op TensorCorePath.cs:LoraTensorCoreForward"].Calls, Is.EqualTo(1));
            Assert.That(rows["op TensorCorePath.AttentionBackward.cs:TensorCoreAttentionBackwardPass"].Calls, Is.EqualTo(1));
        }
    }
}
