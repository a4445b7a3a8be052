namespace MaMA.Engine;

/// <summary>
/// The base ops. Each op lives in its own file under Ops/ with its forward (per backend through
/// <see cref="Dispatch"/>) and its autograd node. Inputs of any floating dtype are computed in fp32.
/// </summary>
public static partial class Ops
{
}
