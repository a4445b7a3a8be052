using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// A pre-norm GPT-2 block (HF GPT2Block): h = x + attn(ln_1(x)); y = h + mlp(ln_2(h)).
/// Keys <c>ln_1.*</c>, <c>attn.*</c>, <c>ln_2.*</c>, <c>mlp.*</c>.
/// </summary>
public sealed class Gpt2Block : Module
{
    public Gpt2Block(Gpt2Config config, int layerIndex, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Ln1 = RegisterModule("ln_1", new LayerNorm(config.NEmbd, config.LayerNormEpsilon, device));
        Attn = RegisterModule("attn", new Gpt2Attention(config, layerIndex, rng, device));
        Ln2 = RegisterModule("ln_2", new LayerNorm(config.NEmbd, config.LayerNormEpsilon, device));
        Mlp = RegisterModule("mlp", new Gpt2Mlp(config, rng, device));
    }

    public LayerNorm Ln1 { get; }

    public Gpt2Attention Attn { get; }

    public LayerNorm Ln2 { get; }

    public Gpt2Mlp Mlp { get; }

    /// <summary>
    /// x [B, T, C], attentionMask [B, T] -> [B, T, C]. Each branch's c_proj bias and the residual add
    /// run as one pass, and under bf16 autocast ln_1 and ln_2 write the bf16 values c_attn and c_fc
    /// read; the values are those of the block computed op by op.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor attentionMask)
    {
        Tensor h = Attn.ForwardResidual(Ln1.ForwardForProduct(x), attentionMask, x);
        return Mlp.ForwardResidual(Ln2.ForwardForProduct(h), h);
    }
}
