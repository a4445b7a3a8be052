using MaMA.Engine.Tensors;

namespace MaMA.Engine.Autograd;

/// <summary>
/// Reverse-mode sweep: collect the nodes reachable from the root, visit them newest first, call
/// each node's backward once with its summed output gradient, and accumulate into leaves' Grad
/// (so repeated backward calls accumulate, which is gradient accumulation).
/// </summary>
internal static class Backprop
{
    public static void Run(Tensor root, Tensor? gradient)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward() on a tensor that does not require grad: no parameter or input with RequiresGrad was used to compute it.");
        if (gradient is null)
        {
            if (root.Numel != 1)
                throw new InvalidOperationException($"Backward() without a gradient needs a scalar; this tensor has shape {Shape.Format(root.Shape)}.");
            gradient = Tensor.Full(root.Shape, 1f, root.Device);
        }
        else if (!Shape.SameShape(gradient.Shape, root.Shape))
        {
            throw new ArgumentException($"Gradient shape {Shape.Format(gradient.Shape)} differs from tensor shape {Shape.Format(root.Shape)}.");
        }

        using IDisposable _ = GradMode.NoGrad();
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [root] = gradient };
        // Storages a leaf Grad may not adopt: the caller's gradient and those already adopted by
        // another leaf in this pass (c = a + b hands the same dy to a and b). A Grad is then owned
        // by its leaf alone, so in-place updates of it (clipping, scaling) touch nothing else.
        var taken = new HashSet<Memory.Storage>(ReferenceEqualityComparer.Instance) { gradient.Storage };
        if (root.GradFn is null)
        {
            Accumulate(root, gradient, taken);
            return;
        }

        foreach (Node node in TopologicalOrder(root.GradFn))
        {
            if (node.Output is null || !grads.Remove(node.Output, out Tensor? gradOut)) continue;
            Tensor?[] gradIns = node.Backward(gradOut);
            for (int i = 0; i < node.Inputs.Length; i++)
            {
                Tensor input = node.Inputs[i];
                Tensor? g = gradIns[i];
                if (g is null || !input.RequiresGrad) continue;
                if (!Shape.SameShape(g.Shape, input.Shape))
                    throw new InvalidOperationException($"Internal error: {node.Name} produced a gradient of shape {Shape.Format(g.Shape)} for an input of shape {Shape.Format(input.Shape)}.");
                if (input.GradFn is null)
                    Accumulate(input, g, taken);
                else
                    grads[input] = grads.TryGetValue(input, out Tensor? existing) ? Ops.Add(existing, g) : g;
            }
        }
    }

    private static void Accumulate(Tensor leaf, Tensor g, HashSet<Memory.Storage> taken)
    {
        if (leaf.Grad is not null)
        {
            leaf.Grad = Ops.Add(leaf.Grad, g);
            return;
        }
        Tensor own = g.Contiguous();
        if (ReferenceEquals(own, g) && !taken.Add(g.Storage)) own = Ops.Affine(g, 1f); // exact fp32 copy
        leaf.Grad = own;
    }

    /// <summary>Nodes reachable from <paramref name="start"/>, newest first.</summary>
    private static List<Node> TopologicalOrder(Node start)
    {
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        var order = new List<Node>();
        stack.Push(start);
        seen.Add(start);
        while (stack.Count > 0)
        {
            Node n = stack.Pop();
            order.Add(n);
            foreach (Tensor input in n.Inputs)
                if (input.GradFn is { } parent && seen.Add(parent)) stack.Push(parent);
        }
        order.Sort((a, b) => b.Sequence.CompareTo(a.Sequence));
        return order;
    }
}
