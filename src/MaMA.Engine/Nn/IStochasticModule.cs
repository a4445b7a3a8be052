namespace MaMA.Engine.Nn;

/// <summary>
/// A module whose training forward draws random numbers from a counter-based (Philox) stream and
/// advances its position per call, as <see cref="LoraLinear"/>'s dropout does. Activation
/// recomputation rewinds the position so the recomputed forward draws the same masks.
/// </summary>
public interface IStochasticModule
{
    /// <summary>Position of the next forward's random stream.</summary>
    ulong DropoutOffset { get; set; }
}
