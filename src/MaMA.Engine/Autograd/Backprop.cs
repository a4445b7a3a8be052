using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Autograd;

/// <summary>
/// Reverse-mode sweep: collect the nodes reachable from the root, visit them newest first, call
/// each node's backward once with its summed output gradient, and accumulate into leaves' Grad
/// (so repeated backward calls accumulate, which is gradient accumulation). Unless the graph is
/// retained, each node disposes the saved tensors it owns right after its backward. With a
/// <see cref="GradHooks"/> registration, parameters are reported when their gradient is final.
/// </summary>
internal static class Backprop
{
    /// <summary>Whether window gradients are added in place (<see cref="IWindowGradient"/>); tests turn it off to compare.</summary>
    internal static bool InPlaceWindows { get; set; } = true;

    /// <summary>Window gradients added in place so far in this process (tests check the path ran).</summary>
    internal static long WindowsAddedInPlace => Interlocked.Read(ref s_windowsAddedInPlace);

    private static long s_windowsAddedInPlace;

    public static void Run(Tensor root, Tensor? gradient, bool retainGraph = false)
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
        // Gradient-final hooks (GradHooks): the outermost pass on this thread owns the bookkeeping,
        // passes nested in a node's backward (activation recomputation) report into it.
        HookPass? pass = t_pass;
        bool outermost = false;
        if (pass is null && GradHooks.Current is { } onFinal)
        {
            pass = new HookPass(onFinal);
            outermost = true;
            t_pass = pass;
        }
        try
        {
            Sweep(root, gradient, pass, outermost, retainGraph);
            if (outermost)
                foreach (Parameter p in pass!.Deferred) pass.Fire(p);
        }
        finally
        {
            if (outermost) t_pass = null;
        }
    }

    private static void Sweep(Tensor root, Tensor gradient, HookPass? pass, bool outermost, bool retainGraph)
    {
        // Storages a leaf Grad may not adopt: the caller's gradient and those already adopted by
        // another leaf in this pass (c = a + b hands the same dy to a and b). A Grad is then owned
        // by its leaf alone, so in-place updates of it (clipping, scaling) touch nothing else.
        var taken = new HashSet<Memory.Storage>(ReferenceEqualityComparer.Instance) { gradient.Storage };
        if (root.GradFn is null)
        {
            Accumulate(root, gradient, taken);
            if (pass is not null && root is Parameter rp)
            {
                if (outermost) pass.Fire(rp);
                else pass.Nested(rp);
            }
            return;
        }

        // The gradient of each node's output, keyed by the node (nodes do not hold their outputs).
        var grads = new Dictionary<Node, Tensor>(ReferenceEqualityComparer.Instance) { [root.GradFn] = gradient };
        List<Node> order = TopologicalOrder(root.GradFn);
        // With a hook: the parameters whose last consumer (in execution order) is node k, and which
        // of them received a gradient in this pass.
        List<Parameter>?[]? finalAfter = null;
        HashSet<Tensor>? received = null;
        if (pass is not null && outermost)
        {
            var last = new Dictionary<Parameter, int>(ReferenceEqualityComparer.Instance);
            for (int k = 0; k < order.Count; k++)
                foreach (Edge edge in order[k].Edges)
                    if (edge.Leaf is Parameter p && p.RequiresGrad) last[p] = k;
            finalAfter = new List<Parameter>?[order.Count];
            foreach ((Parameter p, int k) in last) (finalAfter[k] ??= []).Add(p);
            received = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        }

        // Intermediate gradients are freed as soon as nothing needs them (as PyTorch does), instead of
        // waiting for the finalizer: a gradient object is kept while it is pending for a node
        // (counted in `pending`, the same object can be pending for several inputs), when a leaf adopted
        // it as its Grad, or when it is the caller's. Everything else a step consumed is disposed.
        var pending = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance) { [gradient] = 1 };
        var kept = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { gradient };
        var consumed = new List<Tensor>();
        // Gradients this sweep made (sums, window nodes' zero-filled gradients) that no node has been
        // handed yet: nothing else holds them or a view of their storage, so they may be added to in
        // place (IWindowGradient). Handing one to a node's backward ends that (it may return views).
        var owned = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < order.Count; k++)
        {
            Node node = order[k];
            if (grads.Remove(node, out Tensor? gradOut))
            {
                Unpend(pending, gradOut);
                consumed.Add(gradOut);
                owned.Remove(gradOut);
                node.ThrowIfFreed();
                if (InPlaceWindows && node is IWindowGradient window && node.Edges[0] is { RequiresGrad: true, Producer: { } producer }
                    && grads.TryGetValue(producer, out Tensor? into) && owned.Contains(into) && pending.GetValueOrDefault(into) == 1)
                {
                    // The input's gradient so far is the sweep's own: add this window into it in place.
                    if (Diagnostics.OpProfile.Enabled)
                        Diagnostics.OpProfile.Time("backward " + node.Name + " (in place)", gradOut.Device, () => window.AddWindowInto(into, gradOut));
                    else
                        window.AddWindowInto(into, gradOut);
                    Interlocked.Increment(ref s_windowsAddedInPlace);
                    if (!retainGraph) node.ReleaseSaved();
                }
                else
                {
                    Tensor?[] gradIns = Diagnostics.OpProfile.Enabled ? ProfiledBackward(node, gradOut) : node.Backward(gradOut);
                    if (!retainGraph) node.ReleaseSaved();
                    if (gradIns.Length != node.Edges.Length)
                        throw new InvalidOperationException($"Internal error: {node.Name} returned {gradIns.Length} gradients for {node.Edges.Length} inputs.");
                    for (int i = 0; i < node.Edges.Length; i++)
                    {
                        Edge edge = node.Edges[i];
                        Tensor? g = gradIns[i];
                        if (g is null) continue;
                        consumed.Add(g);
                        if (!edge.RequiresGrad) continue;
                        if (!Shape.SameShape(g.Shape, edge.Shape))
                            throw new InvalidOperationException($"Internal error: {node.Name} produced a gradient of shape {Shape.Format(g.Shape)} for an input of shape {Shape.Format(edge.Shape)}.");
                        if (edge.Producer is null)
                        {
                            Tensor leaf = edge.Leaf!;
                            Accumulate(leaf, g, taken);
                            kept.Add(leaf.Grad!);
                            if (pass is not null && leaf is Parameter p)
                            {
                                if (outermost) received!.Add(p);
                                else pass.Nested(p);
                            }
                        }
                        else
                        {
                            Tensor sum = g;
                            if (grads.TryGetValue(edge.Producer, out Tensor? existing))
                            {
                                sum = Ops.Add(existing, g);
                                owned.Remove(existing);
                                owned.Add(sum);
                                Unpend(pending, existing);
                                consumed.Add(existing);
                            }
                            else if (node is IWindowGradient)
                            {
                                owned.Add(sum); // a window node's gradient is a fresh zero-filled tensor
                            }
                            grads[edge.Producer] = sum;
                            pending[sum] = pending.GetValueOrDefault(sum) + 1;
                        }
                    }
                }
                foreach (Tensor t in consumed)
                    if (!pending.ContainsKey(t) && !kept.Contains(t)) t.Dispose();
                consumed.Clear();
            }
            if (finalAfter?[k] is { } done)
                foreach (Parameter p in done)
                    if (received!.Contains(p) && !pass!.IsDeferred(p)) pass.Fire(p);
        }
    }

    private static Tensor?[] ProfiledBackward(Node node, Tensor gradOut)
    {
        Tensor?[] result = [];
        Diagnostics.OpProfile.Time("backward " + node.Name, gradOut.Device, () => result = node.Backward(gradOut));
        return result;
    }

    private static void Unpend(Dictionary<Tensor, int> pending, Tensor t)
    {
        if (pending.TryGetValue(t, out int n) && n > 1) pending[t] = n - 1;
        else pending.Remove(t);
    }

    [ThreadStatic]
    private static HookPass? t_pass;

    /// <summary>Hook bookkeeping of one outermost backward pass.</summary>
    private sealed class HookPass(Action<Parameter> onFinal)
    {
        private readonly HashSet<Tensor> _fired = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<Tensor> _deferred = new(ReferenceEqualityComparer.Instance);

        /// <summary>Parameters that received a gradient in a nested pass, reported at the end (first-seen order).</summary>
        public List<Parameter> Deferred { get; } = [];

        public bool IsDeferred(Parameter p) => _deferred.Contains(p);

        public void Fire(Parameter p)
        {
            if (_fired.Add(p)) onFinal(p);
        }

        public void Nested(Parameter p)
        {
            if (_fired.Contains(p))
                throw new InvalidOperationException(
                    $"Gradient hook: parameter '{p.Name ?? p.ToString()}' was reported final and then received a gradient in a nested backward " +
                    "(activation recomputation); it is used inside a recomputed block and, later in tape order, outside it.");
            if (_deferred.Add(p)) Deferred.Add(p);
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
            foreach (Edge edge in n.Edges)
                if (edge.Producer is { } parent && seen.Add(parent)) stack.Push(parent);
        }
        order.Sort((a, b) => b.Sequence.CompareTo(a.Sequence));
        return order;
    }
}
