using MaMA.Bench.Cases;
using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// The libtorch side of the kernel-family benchmark (`mama bench ops --vs torch`): for each
/// torch-free <see cref="BenchCase"/> of MaMA.Bench.Cases (shapes, inputs, FLOPs, the engine
/// computation), the same computation in TorchSharp, written as the parity catalog's references.
/// One file per family: FamilyBench.{Family}.cs.
/// </summary>
public static partial class FamilyBench
{
    /// <summary>The libtorch computation of <paramref name="c"/> over its inputs in order.</summary>
    public static Func<TorchTensor[], TorchTensor> Torch(BenchCase c) => c switch
    {
        AttentionCase a => Attention(a),
        LoraCase l => Lora(l),
        LocalAlignmentCase s => LocalAlignment(s),
        ClipCase => Clip(),
        NtXentCase n => NtXent(n),
        MatMulCase => x => torch.matmul(x[0], x[1]),
        LayerNormCase n => x => torch.nn.functional.layer_norm(x[0], [n.C], x[1], x[2], n.Eps),
        LayerScaleCase => x => x[0] * x[1],
        QkvSplitCase q => x => x[0].view(q.Batch, q.Tokens, 3, q.Heads, q.HeadDim).permute(2, 0, 3, 1, 4).contiguous(),
        BiasGeluCase => x => torch.nn.functional.gelu(x[0] + x[1]),
        ScaledResidualCase => x => x[0] + (x[1] + x[2]) * x[3],
        BiasSplitHeadsCase h => x => (x[0] + x[1]).view(h.Batch, h.Tokens, 3, h.Heads, h.HeadDim).permute(2, 0, 3, 1, 4).contiguous(),
        DropoutCase d => x => torch.nn.functional.dropout(x[0], d.P, training: true),
        _ => throw new ArgumentException($"no libtorch computation for benchmark case '{c.Name}' ({c.GetType().Name}).", nameof(c)),
    };

    /// <summary>Input <paramref name="i"/> as a libtorch tensor holding the engine's values, in the case's storage dtype.</summary>
    public static TorchTensor TorchInput(BenchData data, int i)
    {
        BenchInput spec = data.Case.Inputs[i];
        TorchTensor t = torch.tensor(data.Values[i], spec.Shape.Select(d => (long)d).ToArray());
        return spec.DType == Engine.Tensors.DType.BFloat16 ? t.to(torch.ScalarType.BFloat16) : t;
    }
}
