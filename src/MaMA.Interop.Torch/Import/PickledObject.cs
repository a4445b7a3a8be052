namespace MaMA.Interop.Torch.Import;

/// <summary>A Python global (<c>module.name</c>) named in a pickle: a class or function, never executed.</summary>
public sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>
/// Any Python object the checkpoint reader has no meaning for (argparse.Namespace, pathlib paths,
/// numpy scalars, Lightning callbacks' state, ...): kept as the callable, its arguments and its
/// BUILD state instead of being constructed. This is what lets a Lightning <c>.ckpt</c> whose
/// <c>hyper_parameters</c> hold arbitrary objects be read for its <c>state_dict</c> alone.
/// </summary>
public sealed class PickledObject(PyGlobal type, object?[] args)
{
    public PyGlobal Type { get; } = type;

    public object?[] Args { get; } = args;

    /// <summary>What BUILD attached (usually the instance <c>__dict__</c>).</summary>
    public object? State { get; set; }

    public override string ToString() => $"<{Type} object>";
}
