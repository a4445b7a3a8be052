using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MaMA.Interop.Torch.Reference;

/// <summary>
/// MaMA's local head in torch.nn, as the published <c>LocalEmbedding</c>: <c>head</c> =
/// Sequential(Conv1d(in, hidden, 1), BatchNorm1d(hidden), ReLU, Conv1d(hidden, out, 1),
/// BatchNorm1d(out, affine = false)), applied to x [N, L, C] permuted to [N, C, L] and back.
/// Reference only (parity tests of <c>MaMA.Model.Heads.LocalEmbedding</c>).
/// </summary>
public sealed class TorchLocalEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Sequential head;

    public TorchLocalEmbedding(long inputDim, long hiddenDim, long outputDim) : base("LocalEmbedding")
    {
        head = nn.Sequential(
            ("0", nn.Conv1d(inputDim, hiddenDim, 1)),
            ("1", nn.BatchNorm1d(hiddenDim)),
            ("2", nn.ReLU()),
            ("3", nn.Conv1d(hiddenDim, outputDim, 1)),
            ("4", nn.BatchNorm1d(outputDim, affine: false)));
        RegisterComponents();
    }

    /// <summary>x [N, L, C] -> [N, L, E].</summary>
    public override Tensor forward(Tensor x) => head.forward(x.permute(0, 2, 1)).permute(0, 2, 1);
}

/// <summary>
/// The published <c>SimCLRProjectionHead(in, hidden, out)</c> (lightly's ProjectionHead with batch
/// norm): <c>layers</c> = Sequential(Linear(in, hidden, bias = false), BatchNorm1d(hidden), ReLU,
/// Linear(hidden, out, bias = false), BatchNorm1d(out)).
/// </summary>
public sealed class TorchSimClrProjectionHead : nn.Module<Tensor, Tensor>
{
    private readonly Sequential layers;

    public TorchSimClrProjectionHead(long inputDim, long hiddenDim, long outputDim) : base("SimCLRProjectionHead")
    {
        layers = nn.Sequential(
            ("0", nn.Linear(inputDim, hiddenDim, hasBias: false)),
            ("1", nn.BatchNorm1d(hiddenDim)),
            ("2", nn.ReLU()),
            ("3", nn.Linear(hiddenDim, outputDim, hasBias: false)),
            ("4", nn.BatchNorm1d(outputDim)));
        RegisterComponents();
    }

    /// <summary>x [N, in] -> [N, out].</summary>
    public override Tensor forward(Tensor x) => layers.forward(x);
}

/// <summary>Copies engine state (parameters and buffers, same keys) into TorchSharp modules.</summary>
public static class TorchState
{
    /// <summary>
    /// Every engine tensor goes into the entry of <paramref name="module"/>'s state dict with the same
    /// key (converted to the target's dtype). Every engine key must exist there, and every parameter
    /// and buffer of the module must receive a value; the error lists the keys that break either
    /// rule. TorchSharp's state_dict may also list private fields of the reference modules under
    /// their C# names (aliases of registered tensors), so coverage is checked by tensor handle.
    /// </summary>
    public static void Load(nn.Module module, IReadOnlyDictionary<string, MaMA.Engine.Tensors.Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(state);
        var own = module.state_dict();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var loaded = state.Keys.Where(own.ContainsKey).Select(k => own[k].Handle).ToHashSet();
        var missing = module.named_parameters().Select(p => (p.name, Address: p.parameter.Handle))
            .Concat(module.named_buffers().Select(b => (b.name, Address: b.buffer.Handle)))
            .Where(e => !loaded.Contains(e.Address)).Select(e => e.name).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new ArgumentException($"{module.GetName()}: missing keys [{string.Join(", ", missing)}], unexpected keys [{string.Join(", ", unexpected)}].");
        using var _ = no_grad();
        foreach ((string key, MaMA.Engine.Tensors.Tensor value) in state)
        {
            Tensor target = own[key];
            using Tensor source = TorchBridge.ToTorch(value).to(target.dtype);
            if (!source.shape.SequenceEqual(target.shape))
                throw new ArgumentException($"{module.GetName()}: {key} has shape [{string.Join(", ", source.shape)}], expected [{string.Join(", ", target.shape)}].");
            target.copy_(source);
        }
    }
}
