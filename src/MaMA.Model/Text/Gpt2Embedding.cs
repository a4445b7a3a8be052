using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// torch.nn.Embedding as GPT-2 uses it (wte [V, C] tokens, wpe [n_positions, C] positions): key
/// <c>weight</c>, N(0, 0.02) (HF init). <see cref="Resize"/> implements resize_token_embeddings.
/// </summary>
public sealed class Gpt2Embedding : Module
{
    private const string WeightName = "weight";

    public Gpt2Embedding(int count, int channels, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        Channels = channels;
        Weight = RegisterParameter(WeightName, Gpt2Init.NormalTensor(rng, [count, channels], Gpt2Init.Std, device));
    }

    /// <summary>[V, C].</summary>
    public Parameter Weight { get; private set; }

    /// <summary>V.</summary>
    public int Count => Weight.Size(0);

    /// <summary>C.</summary>
    public int Channels { get; }

    /// <summary>ids [...] int64 or int32 -> [..., C].</summary>
    public Tensor Forward(Tensor ids) => Ops.Embedding(Weight, ids);

    /// <summary>
    /// HF resize_token_embeddings: a new [<paramref name="newCount"/>, C] table whose first
    /// min(old, new) rows are the old ones and whose added rows are N(0, 0.02) from
    /// <paramref name="rng"/>. The new parameter keeps the old one's frozen state and weight-decay
    /// flag (under LoRA the six MaMA rows stay frozen, SPEC section 4). Optimizers built before
    /// the call still hold the old parameter (it is not disposed): resize before building them.
    /// </summary>
    public void Resize(int newCount, Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(newCount);
        int oldCount = Count;
        if (newCount == oldCount) return;
        int c = Channels;
        var data = new float[checked((long)newCount * c)];
        float[] old = Weight.ToFloatArray();
        int kept = Math.Min(oldCount, newCount);
        Array.Copy(old, data, (long)kept * c);
        if (newCount > oldCount)
        {
            float[] fresh = Gpt2Init.Normal(rng, (long)(newCount - oldCount) * c, Gpt2Init.Std);
            Array.Copy(fresh, 0, data, (long)kept * c, fresh.Length);
        }

        Parameter previous = Weight;
        Tensor table;
        using (GradMode.NoGrad()) table = Tensor.FromArray(data, [newCount, c], previous.Device).To(previous.DType);
        var resized = new Parameter(table, previous.Name, previous.NoWeightDecay);
        if (previous.IsFrozen) resized.Freeze();
        Weight = ReplaceParameter(WeightName, resized);
    }
}
