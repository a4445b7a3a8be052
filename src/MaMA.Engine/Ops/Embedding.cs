using System.Buffers;
using MaMA.Engine.Autograd;
using MaMA.Engine.Devices;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using EmbeddingKernels = MaMA.Kernels.Embedding.Embedding;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Embedding lookup: y[..., :] = weight[ids[...], :] for weight [V, C] and int64 or int32 ids of
    /// any shape, giving [..., C]. Ids are checked on the host (out of [0, V) is an
    /// <see cref="ArgumentException"/> naming the first bad id). The weight gradient is a
    /// deterministic scatter-add: tokens are grouped by id on the host and each (id, channel) sums
    /// its tokens in token order, without atomics.
    /// </summary>
    public static unsafe Tensor Embedding(Tensor weight, Tensor ids)
    {
        Dispatch.SameDevice("embedding", weight, ids);
        Dispatch.RequireFloat("embedding", weight);
        if (weight.Rank != 2)
            throw new ArgumentException($"embedding needs a weight of shape [V, C], got {Shape.Format(weight.Shape)}.");
        if (ids.DType is not (DType.Int64 or DType.Int32))
            throw new ArgumentException($"embedding needs int64 or int32 ids, got {ids.DType}.");
        int v = weight.Shape[0], c = weight.Shape[1];
        int[] hostIds = HostIds(ids, v);
        int[] outShape = [.. ids.Shape, c];
        Tensor y = Tensor.Empty(outShape, DType.Float32, weight.Device);
        int count = checked((int)y.Numel);
        if (count > 0)
        {
            Tensor wf = Dispatch.F32(weight);
            Dispatch.Run(weight.Device,
                cpu: () =>
                {
                    fixed (int* pIds = hostIds) EmbeddingSimd.Gather(hostIds.Length, c, pIds, wf.Ptr<float>(), y.Ptr<float>());
                },
                ilgpu: s =>
                {
                    using Tensor idsT = Tensor.FromArray(hostIds, [hostIds.Length], weight.Device);
                    EmbeddingKernels.Gather.Launch(s, count, idsT.View<int>(), wf.View<float>(), y.View<float>(), c);
                });
        }
        return GradMode.RecordIfNeeded(y, new EmbeddingNode(weight, hostIds, v, c));
    }

    /// <summary>The ids as int32 on the host, each checked against [0, vocabulary).</summary>
    private static int[] HostIds(Tensor ids, int vocabulary)
    {
        long[] values = ids.DType == DType.Int64 ? ids.ToArray<long>() : Array.ConvertAll(ids.ToArray<int>(), i => (long)i);
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            long id = values[i];
            if (id < 0 || id >= vocabulary)
                throw new ArgumentException($"embedding: id {id} at flat position {i} of ids {Shape.Format(ids.Shape)} is outside the table's [0, {vocabulary}).", nameof(ids));
            result[i] = (int)id;
        }
        return result;
    }

    private sealed class EmbeddingNode(Tensor weight, int[] ids, int v, int c) : Node(weight)
    {
        public override string Name => "embedding";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Tensor g = Dispatch.F32(dy);
            if (ids.Length == 0 || c == 0) return [Tensor.Zeros([v, c], DType.Float32, g.Device)];

            // CSR grouping of token positions by id, tokens ascending within a group: sort id * n + t.
            long n = ids.Length;
            long[] keys = new long[n];
            for (int t = 0; t < n; t++) keys[t] = ids[t] * n + t;
            Array.Sort(keys);
            var order = new int[n];
            var unique = new List<int>();
            var starts = new List<int>();
            for (int k = 0; k < n; k++)
            {
                int id = (int)(keys[k] / n);
                order[k] = (int)(keys[k] % n);
                if (unique.Count == 0 || unique[^1] != id)
                {
                    unique.Add(id);
                    starts.Add(k);
                }
            }
            starts.Add((int)n);

            int count = checked(unique.Count * c);
            Tensor dw = g.Device is CpuDevice ? Tensor.Empty([v, c], DType.Float32, g.Device) : Tensor.Zeros([v, c], DType.Float32, g.Device);
            Dispatch.Run(g.Device,
                cpu: () =>
                {
                    // Every row of dw is written once: its tokens' sum, or zeros (so no separate fill).
                    int[] group = ArrayPool<int>.Shared.Rent(v);
                    try
                    {
                        Array.Fill(group, -1, 0, v);
                        for (int u = 0; u < unique.Count; u++) group[unique[u]] = u;
                        int[] startsArray = starts.ToArray();
                        fixed (int* pGroup = group, pStarts = startsArray, pTokens = order)
                            EmbeddingSimd.ScatterAdd(v, c, pGroup, pStarts, pTokens, g.Ptr<float>(), dw.Ptr<float>());
                    }
                    finally
                    {
                        ArrayPool<int>.Shared.Return(group);
                    }
                },
                ilgpu: s =>
                {
                    using Tensor uniqueT = Tensor.FromArray(unique.ToArray(), [unique.Count], g.Device);
                    using Tensor startsT = Tensor.FromArray(starts.ToArray(), [starts.Count], g.Device);
                    using Tensor tokensT = Tensor.FromArray(order, [order.Length], g.Device);
                    EmbeddingKernels.ScatterAdd.Launch(s, count, uniqueT.View<int>(), startsT.View<int>(), tokensT.View<int>(), g.View<float>(), dw.View<float>(), c);
                });
            return [dw];
        }
    }
}
