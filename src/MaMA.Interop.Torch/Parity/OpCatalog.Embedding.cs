using MaMA.Engine;
using MaMA.Engine.Tensors;
using static TorchSharp.torch;

namespace MaMA.Interop.Torch.Parity;

/// <summary>Embedding lookup cases; few ids over many tokens so the weight gradient accumulates repeats.</summary>
public static partial class OpCatalog
{
    static partial void AddEmbeddingFamily(List<OpCase> cases)
    {
        // Reference: index_select on the flattened ids (its backward is an index_add into the table).
        static TorchSharp.torch.Tensor Lookup(TorchSharp.torch.Tensor weight, TorchSharp.torch.Tensor ids) =>
            weight.index_select(0, ids.flatten()).reshape([.. ids.shape, weight.shape[1]]);

        cases.Add(new("embedding_2d_ids", [new("weight", [11, 19]), new("ids", [3, 9], InputKind.Index, Differentiable: false, High: 11)],
            x => Ops.Embedding(x[0], x[1]), x => Lookup(x[0], x[1])));
        cases.Add(new("embedding_1d_ids_repeats", [new("weight", [5, 33]), new("ids", [40], InputKind.Index, Differentiable: false, High: 3)],
            x => Ops.Embedding(x[0], x[1]), x => Lookup(x[0], x[1])));
        cases.Add(new("embedding_int32_ids", [new("weight", [23, 8]), new("ids", [2, 3, 5], InputKind.Index, Differentiable: false, High: 23)],
            x => Ops.Embedding(x[0], x[1].To(DType.Int32)), x => Lookup(x[0], x[1])));
    }
}
