using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Training.Pretraining;

/// <summary>
/// Host copies of a module's persistent buffers (BatchNorm running statistics and counters). A
/// forward in training mode updates them even when the step is later skipped for a NaN/Inf loss;
/// restoring the snapshot keeps a skipped step from leaving NaN statistics behind.
/// </summary>
internal sealed class BufferSnapshot
{
    private readonly Dictionary<string, Tensor> _copies;

    private BufferSnapshot(Dictionary<string, Tensor> copies) => _copies = copies;

    public static BufferSnapshot Take(Module module)
    {
        var copies = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string name, Tensor t) in module.StateDict())
            if (t is not Parameter) copies[name] = Tensor.FromBytes(t.ToBytes(), t.ShapeArray, t.DType);
        return new BufferSnapshot(copies);
    }

    public void Restore(Module module) => module.LoadStateDict(_copies, strict: false);
}
