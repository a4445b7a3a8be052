using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Text;

/// <summary>
/// GPT-2 MLP (HF GPT2MLP): c_fc [C, n_inner], GELU ("gelu_new" = tanh form for BioMedLM, "gelu" =
/// erf), c_proj [n_inner, C], then HF's <c>dropout</c> (resid_pdrop) in training. Keys <c>c_fc.*</c>,
/// <c>c_proj.*</c>.
/// </summary>
public sealed class Gpt2Mlp : Module
{
    public Gpt2Mlp(Gpt2Config config, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Form = config.ActivationFunction == "gelu" ? GeluForm.Erf : GeluForm.Tanh;
        CFc = RegisterModule("c_fc", Gpt2Projection.Create("mlp.c_fc", config.NEmbd, config.NInner, Gpt2Init.Std, config.Lora, rng, device));
        CProj = RegisterModule("c_proj", Gpt2Projection.Create("mlp.c_proj", config.NInner, config.NEmbd, Gpt2Init.ResidualStd(config.NLayer), config.Lora, rng, device));
        Dropout = RegisterModule("dropout", new Dropout(config.ResidPdrop));
    }

    /// <summary>HF <c>mlp.dropout</c> on c_proj's output (resid_pdrop), training only.</summary>
    public Dropout Dropout { get; }

    public GeluForm Form { get; }

    public Module CFc { get; }

    public Module CProj { get; }

    /// <summary>x [B, T, C] -> [B, T, C].</summary>
    public Tensor Forward(Tensor x) => Dropout.Forward(Gpt2Projection.Forward(CProj, Gpt2Projection.ForwardGelu(CFc, x, Form)));

    /// <summary>
    /// The block's update residual + mlp(x) [B, T, C]: c_proj's bias add and the residual add in one
    /// pass, or, while the dropout draws masks, residual + dropout(c_proj(...)) op by op.
    /// </summary>
    public Tensor ForwardResidual(Tensor x, Tensor residual)
    {
        Tensor hidden = Gpt2Projection.ForwardGelu(CFc, x, Form);
        return Dropout.Active
            ? Ops.Add(residual, Dropout.Forward(Gpt2Projection.Forward(CProj, hidden)))
            : Gpt2Projection.ForwardResidual(CProj, hidden, residual);
    }
}
