using MaMA.Engine.Nn;

namespace MaMA.Model.Heads;

/// <summary>
/// The parameter-holding layers of a torch.nn.Sequential, registered under their position in the
/// sequence ("0", "1", "3", ...). Parameter-free layers (ReLU) keep their index but hold no entry,
/// so state-dict keys match PyTorch's (<c>head.3.weight</c> after a ReLU at index 2).
/// </summary>
public sealed class SequentialLayers : Module
{
    public SequentialLayers(params (int Index, Module Layer)[] layers)
    {
        foreach ((int index, Module layer) in layers.OrderBy(l => l.Index))
            RegisterModule(index.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
    }
}
