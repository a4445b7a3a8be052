using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using EngineOps = MaMA.Engine.Ops;

namespace MaMA.Engine.Tests.Ops;

/// <summary>
/// Runs a fused op and its op-by-op twin the same way, for bit-for-bit comparisons: the inputs as
/// leaves that require grad, the first <c>activations</c> of them scaled by <c>scale</c> first (graph
/// activations, as a product's output is, so autocast treats them as it treats the block's), then
/// the backward of sum(out * weights), all inside a bf16 autocast scope when asked.
/// </summary>
internal static class FusionHarness
{
    public sealed record Result(DType DType, bool Contiguous, float[] Output, float[][] Grads);

    /// <summary>
    /// Runs the finalizers of earlier tests' garbage, so that a memory measurement right after sees
    /// only what the op under test allocates (a finalizer freeing a block mid-measurement would not).
    /// </summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    public static Result Run(Device device, bool autocast, (float[] Values, int[] Shape)[] inputs, int activations, float scale,
        (float[] Values, int[] Shape) weights, Func<Tensor[], Tensor> f)
    {
        Tensor[] leaves = inputs.Select(i => Tensor.FromArray(i.Values, i.Shape, device)).ToArray();
        foreach (Tensor l in leaves) l.RequiresGrad = true;
        using Tensor w = Tensor.FromArray(weights.Values, weights.Shape, device);
        Tensor o;
        using (autocast ? Autocast.Bf16() : null)
        {
            o = f(leaves.Select((l, i) => i < activations ? EngineOps.Scale(l, scale) : l).ToArray());
            EngineOps.Sum(EngineOps.Mul(o, w)).Backward();
        }
        var result = new Result(o.DType, o.IsContiguous, o.ToFloatArray(), leaves.Select(l => l.Grad!.ToArray<float>()).ToArray());
        foreach (Tensor l in leaves) l.Dispose();
        return result;
    }
}
