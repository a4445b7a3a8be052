using MaMA.Model.MaMA;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Interop.Torch.Reference;

/// <summary>The loss terms and embeddings of one <see cref="TorchMaMA.Forward"/>; late terms are null before the late-loss step.</summary>
public sealed record TorchMaMAOutput(
    Tensor Loss, Tensor ClipV1, Tensor? ClipV2, Tensor? NtXent, Tensor? SlaT2I, Tensor? SlaI2T,
    Tensor ImageEmbedding, Tensor TextEmbedding, Tensor? PatchEmbedding, IReadOnlyList<Tensor>? SentenceEmbeddings,
    Tensor? T2I, Tensor? I2T);

/// <summary>
/// The published MaMA forward (model.py <c>MaMACLIP.forward</c> with pool_feat, pool_txt_feat, slip,
/// symmetric_clip, local_contrast, symmetric_local; single process) written with TorchSharp over the
/// reference encoders <see cref="TorchDinoV2"/> and <see cref="TorchGpt2"/> and torch.nn heads, with
/// the published module names, so an engine <c>MaMAModel.StateDict()</c> loads into it key for key.
/// Reference only: parity tests of <c>MaMA.Model.MaMA.MaMAModel</c>.
/// </summary>
public sealed class TorchMaMA : nn.Module
{
    private readonly MaMAConfig _config;
    private readonly Parameter _logitScale, _localScale;
    private readonly TorchDinoV2 _vit;
    private readonly Linear _imageGlobal, _textGlobal;
    private readonly TorchLocalEmbedding _imageLocal, _textLocal;
    private readonly TorchGpt2 _gpt;
    private readonly TorchSimClrProjectionHead _simclr;

    public TorchMaMA(MaMAConfig config) : base("MaMACLIP")
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        int c = config.Vision.EmbedDim, ct = config.Text.NEmbd, e = config.EmbedDim, hidden = config.LocalHiddenDim;
        _logitScale = new Parameter(tensor(config.ScaleInit));
        _localScale = new Parameter(tensor(config.ScaleInit));
        register_parameter("logit_scale", _logitScale);
        register_parameter("local_scale", _localScale);

        _vit = new TorchDinoV2(config.Vision);
        _imageGlobal = nn.Linear(c, e);
        _imageLocal = new TorchLocalEmbedding(c, hidden, e);
        var image = new Container("DinoEncoder");
        image.register_module("model", _vit);
        image.register_module("global_embed", _imageGlobal);
        image.register_module("local_embed", _imageLocal);
        register_module("img_encoder_q", image);

        _gpt = new TorchGpt2(config.Text);
        _textGlobal = nn.Linear(ct, e);
        _textLocal = new TorchLocalEmbedding(ct, hidden, e);
        var text = new Container("CausalLMEncoder");
        if (config.Text.Lora is null) text.register_module("model", _gpt);
        else
        {
            // PEFT: PeftModelForCausalLM.base_model (LoraModel).model (the wrapped GPT-2).
            var loraModel = new Container("LoraModel");
            loraModel.register_module("model", _gpt);
            var peft = new Container("PeftModelForCausalLM");
            peft.register_module("base_model", loraModel);
            text.register_module("model", peft);
        }
        text.register_module("global_embed", _textGlobal);
        text.register_module("local_embed", _textLocal);
        register_module("text_encoder_q", text);

        _simclr = new TorchSimClrProjectionHead(c, c, e);
        register_module("simclr_proj", _simclr);
    }

    /// <summary><c>img_encoder_q.local_embed</c>.</summary>
    public TorchLocalEmbedding ImageLocalEmbed => _imageLocal;

    /// <summary><c>text_encoder_q.local_embed</c>.</summary>
    public TorchLocalEmbedding TextLocalEmbed => _textLocal;

    /// <summary><c>simclr_proj</c>.</summary>
    public TorchSimClrProjectionHead SimClrProj => _simclr;

    /// <summary>Copies an engine MaMA state dict (published keys, buffers included) into this module.</summary>
    public void LoadEngineState(IReadOnlyDictionary<string, EngineTensor> state) => TorchState.Load(this, state);

    /// <summary>
    /// The published requires_grad settings at <paramref name="step"/>: mask token and final ViT norm
    /// frozen, only LoRA factors in the text model (all of it without LoRA), local heads and
    /// local_scale only from the late-loss step on.
    /// </summary>
    public void MarkTrainable(long step)
    {
        bool late = step >= _config.LateLossStep;
        foreach ((string name, Parameter p) in _vit.named_parameters())
            p.requires_grad = name is not ("mask_token" or "norm.weight" or "norm.bias");
        _gpt.MarkTrainable();
        foreach ((_, Parameter p) in _imageLocal.named_parameters()) p.requires_grad = late;
        foreach ((_, Parameter p) in _textLocal.named_parameters()) p.requires_grad = late;
        _localScale.requires_grad = late;
    }

    /// <summary>
    /// model.py's forward: pixels [N, 3, H, W], ids [N, T] int64, mask [N, T], pixels2 (late only).
    /// The order of head calls is the published one (simclr_proj on view 2, then view 1; the text
    /// local head once per report), so BatchNorm running statistics move the same way.
    /// </summary>
    public TorchMaMAOutput Forward(Tensor pixels, Tensor ids, Tensor mask, Tensor? pixels2, long step)
    {
        long n = pixels.shape[0];
        using Tensor labels = arange(n, dtype: ScalarType.Int64);

        var vision = _vit.Forward(pixels);
        Tensor imgFull = vision.XPrenorm, patchFeat = vision.Patches;                       // [N, T, C], [N, P, C]
        Tensor imgFeat = imgFull.mean([1]);
        Tensor imgEmb = nn.functional.normalize(_imageGlobal.forward(imgFeat), dim: -1);

        Tensor hidden = _gpt.Forward(ids, mask);
        Tensor reportFeat = hidden.mean([1]);
        Tensor reportEmb = nn.functional.normalize(_textGlobal.forward(reportFeat), dim: -1);

        Tensor scores = imgEmb.mm(reportEmb.t()) * _logitScale.exp();
        Tensor clipV1 = nn.functional.cross_entropy(scores, labels) + nn.functional.cross_entropy(scores.t(), labels);
        if (step < _config.LateLossStep)
            return new TorchMaMAOutput(clipV1, clipV1, null, null, null, null, imgEmb, reportEmb, null, null, null, null);
        ArgumentNullException.ThrowIfNull(pixels2);

        Tensor extFeat = _vit.Forward(pixels2).XPrenorm.mean([1]);
        Tensor s1 = _simclr.forward(extFeat);
        Tensor s2 = _simclr.forward(imgFeat);
        Tensor ntXent = NtXent(s1, s2, _config.NtXentTemperature);
        Tensor extEmb = nn.functional.normalize(_imageGlobal.forward(extFeat), dim: -1);
        Tensor extScores = extEmb.mm(reportEmb.t()) * _logitScale.exp();
        Tensor clipV2 = nn.functional.cross_entropy(extScores, labels) + nn.functional.cross_entropy(extScores.t(), labels);

        Tensor patchEmb = nn.functional.normalize(_imageLocal.forward(patchFeat), dim: -1);   // [N, P, E]
        var t2iRows = new List<Tensor>();
        var i2tRows = new List<Tensor>();
        var sentences = new List<Tensor>();
        for (long m = 0; m < n; m++)
        {
            using Tensor sepIdx = ids[m].eq(_config.SepTokenId).nonzero().reshape(-1);
            Tensor sentFeat = hidden[m].index_select(0, sepIdx).unsqueeze(0);               // [1, S, C]
            Tensor sent = nn.functional.normalize(_textLocal.forward(sentFeat), dim: -1).squeeze(0); // [S, E]
            sentences.Add(sent);
            Tensor sim = einsum("npc,sc->nps", patchEmb, sent);                            // [N, P, S]
            t2iRows.Add(sim.max(1).values.mean([1]));
            i2tRows.Add(sim.max(2).values.mean([1]));
        }
        Tensor t2i = stack(t2iRows, 0), i2t = stack(i2tRows, 0);                            // [reports, images]
        Tensor t2iScaled = t2i * _localScale.exp(), i2tScaled = i2t * _localScale.exp();
        Tensor slaT2I = nn.functional.cross_entropy(t2iScaled, labels) + nn.functional.cross_entropy(t2iScaled.t(), labels);
        Tensor slaI2T = nn.functional.cross_entropy(i2tScaled, labels) + nn.functional.cross_entropy(i2tScaled.t(), labels);

        Tensor loss = clipV1 + _config.InterViewWeight * ntXent + clipV2 + slaT2I + slaI2T;
        return new TorchMaMAOutput(loss, clipV1, clipV2, ntXent, slaT2I, slaI2T, imgEmb, reportEmb, patchEmb, sentences, t2i, i2t);
    }

    /// <summary>lightly's NTXentLoss without a memory bank, single process.</summary>
    private static Tensor NtXent(Tensor out0, Tensor out1, float temperature)
    {
        long n = out0.shape[0];
        out0 = nn.functional.normalize(out0, dim: 1);
        out1 = nn.functional.normalize(out1, dim: 1);
        Tensor diag = eye(n, dtype: ScalarType.Bool);
        Tensor l00 = einsum("nc,mc->nm", out0, out0) / temperature;
        Tensor l01 = einsum("nc,mc->nm", out0, out1) / temperature;
        Tensor l10 = einsum("nc,mc->nm", out1, out0) / temperature;
        Tensor l11 = einsum("nc,mc->nm", out1, out1) / temperature;
        l00 = l00[~diag].view(n, -1);
        l11 = l11[~diag].view(n, -1);
        Tensor logits = cat([cat([l01, l00], 1), cat([l10, l11], 1)], 0);
        Tensor labels = arange(n, dtype: ScalarType.Int64).repeat(2);
        return nn.functional.cross_entropy(logits, labels);
    }

    /// <summary>A named container (nn.Module with children only).</summary>
    private sealed class Container(string name) : nn.Module(name);
}
