using MaMA.Model.Text;
using TorchSharp;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchParameter = TorchSharp.Modules.Parameter;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Reference;

/// <summary>
/// A TorchSharp reference of GPT-2 / BioMedLM with LoRA, written the way Hugging Face's
/// GPT2LMHeadModel (eager attention, transformers 4.35) and PEFT compute it, for parity tests of
/// <see cref="Gpt2Model"/>. Same state-dict names (<c>transformer.wte.weight</c>, ...,
/// <c>transformer.h.N.attn.c_attn.lora_A.default.weight</c>). The math, spelled out rather than
/// taken from the engine:
/// <list type="bullet">
/// <item>h = drop(wte[ids] + wpe[0..T-1]) (embd_pdrop);</item>
/// <item>per block: a = ln_1(h); qkv = a W + b + s B(A(dropout(a))) (LoRA as PEFT, s = alpha / r);
/// q, k, v = qkv split in three along C, each viewed [B, T, H, D] and permuted to [B, H, T, D];
/// w = q k^T / sqrt(D) / (layer + 1); w = where(causal, w, finfo.min) + (1 - mask) * finfo.min
/// (HF's additive padding mask); p = attn_dropout(softmax(w)); o = p v; h += resid_dropout(c_proj(o));
/// h += dropout(c_proj(gelu_new(c_fc(ln_2(h)))));</item>
/// <item>output ln_f(h).</item>
/// </list>
/// The dropouts act only in training mode (torch's own generator: masks differ from the engine's,
/// so parity tests use <see cref="Gpt2Config.WithoutDropout"/> or evaluation; timings see the same work).
/// Parameters start at zero; load them with <see cref="LoadFrom"/>.
/// </summary>
public sealed class TorchGpt2 : nn.Module
{
    private readonly Gpt2Config _config;
    private readonly List<Block> _blocks = [];
    private readonly Embedding _wte, _wpe;
    private readonly Norm _lnF;

    public TorchGpt2(Gpt2Config config) : base("TorchGpt2")
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        var transformer = new Container("transformer");
        _wte = new Embedding(config.VocabSize, config.NEmbd);
        _wpe = new Embedding(config.NPositions, config.NEmbd);
        transformer.register_module("wte", _wte);
        transformer.register_module("wpe", _wpe);
        var h = new Container("h");
        for (int i = 0; i < config.NLayer; i++)
        {
            var block = new Block(config, i);
            _blocks.Add(block);
            h.register_module(i.ToString(System.Globalization.CultureInfo.InvariantCulture), block);
        }
        transformer.register_module("h", h);
        _lnF = new Norm(config.NEmbd, config.LayerNormEpsilon);
        transformer.register_module("ln_f", _lnF);
        register_module("transformer", transformer);
    }

    /// <summary>
    /// Copies an engine state dict (keys without a prefix, e.g. <c>Gpt2Model.StateDict()</c>) into
    /// this module. The two key sets must be equal; a difference is an error listing it.
    /// </summary>
    public void LoadFrom(IEnumerable<KeyValuePair<string, EngineTensor>> stateDict)
    {
        var source = stateDict.ToDictionary(kv => kv.Key, kv => kv.Value);
        var own = named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var missing = own.Keys.Except(source.Keys).Order(StringComparer.Ordinal).ToList();
        var extra = source.Keys.Except(own.Keys).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || extra.Count > 0)
            throw new ArgumentException($"TorchGpt2: key mismatch. Missing: [{string.Join(", ", missing)}]. Unexpected: [{string.Join(", ", extra)}].");
        using (no_grad())
            foreach ((string name, TorchParameter p) in own)
            {
                using TorchTensor value = TorchBridge.ToTorch(source[name]).to(ScalarType.Float32);
                if (!value.shape.SequenceEqual(p.shape))
                    throw new ArgumentException($"TorchGpt2: {name} has shape [{string.Join(", ", value.shape)}], expected [{string.Join(", ", p.shape)}].");
                p.copy_(value);
            }
    }

    /// <summary>Freezes every parameter but the LoRA factors (PEFT), or unfreezes all when there is no LoRA.</summary>
    public void MarkTrainable()
    {
        foreach ((string name, TorchParameter p) in named_parameters())
            p.requires_grad = _config.Lora is null || name.Contains(".lora_A.", StringComparison.Ordinal) || name.Contains(".lora_B.", StringComparison.Ordinal);
    }

    /// <summary>ids [B, T] int64, mask [B, T] (1 keep, 0 pad) -> ln_f hidden states [B, T, C] (float32).</summary>
    public TorchTensor Forward(TorchTensor ids, TorchTensor mask)
    {
        long t = ids.shape[1];
        using TorchTensor positions = arange(t, dtype: ScalarType.Int64);
        TorchTensor h = nn.functional.dropout(_wte.Forward(ids) + _wpe.Forward(positions), _config.EmbdPdrop, training);
        float min = float.MinValue;
        TorchTensor causal = ones(t, t, dtype: ScalarType.Bool).tril();
        TorchTensor additive = (1.0f - mask.to(ScalarType.Float32)).reshape(mask.shape[0], 1, 1, t) * min;
        foreach (Block block in _blocks) h = block.Forward(h, causal, additive, training);
        return _lnF.Forward(h);
    }

    /// <summary>A named container (nn.Module with children only).</summary>
    private sealed class Container(string name) : nn.Module(name);

    private sealed class Embedding : nn.Module
    {
        private readonly TorchParameter _weight;

        public Embedding(int count, int channels) : base("Embedding")
        {
            _weight = new TorchParameter(zeros(count, channels));
            register_parameter("weight", _weight);
        }

        public TorchTensor Forward(TorchTensor ids)
        {
            long[] shape = [.. ids.shape, _weight.shape[1]];
            return _weight.index_select(0, ids.reshape(-1)).reshape(shape);
        }
    }

    private sealed class Norm : nn.Module
    {
        private readonly TorchParameter _weight, _bias;
        private readonly double _eps;

        public Norm(int channels, double eps) : base("LayerNorm")
        {
            _eps = eps;
            _weight = new TorchParameter(ones(channels));
            _bias = new TorchParameter(zeros(channels));
            register_parameter("weight", _weight);
            register_parameter("bias", _bias);
        }

        public TorchTensor Forward(TorchTensor x) => nn.functional.layer_norm(x, [x.shape[^1]], _weight, _bias, _eps);
    }

    /// <summary>HF Conv1D (weight [in, out]), optionally with PEFT's LoRA (lora_A.default / lora_B.default as bias-free Linear).</summary>
    private sealed class Projection : nn.Module
    {
        private readonly TorchParameter _weight, _bias;
        private readonly double _scaling, _dropout;

        // [A, B] when adapted. An array, not Parameter fields: TorchSharp's automatic field
        // registration would list them a second time under the field names.
        private readonly TorchParameter[] _lora = [];

        public Projection(int inFeatures, int outFeatures, LoraConfig? lora) : base("Conv1D")
        {
            _weight = new TorchParameter(zeros(inFeatures, outFeatures));
            _bias = new TorchParameter(zeros(outFeatures));
            register_parameter("weight", _weight);
            register_parameter("bias", _bias);
            if (lora is null) return;
            _scaling = lora.Scaling;
            _dropout = lora.Dropout;
            _lora = [AddFactor("lora_A", lora.Rank, inFeatures), AddFactor("lora_B", outFeatures, lora.Rank)];
        }

        private TorchParameter AddFactor(string name, int rows, int columns)
        {
            var factor = new Container("Linear");
            var weight = new TorchParameter(zeros(rows, columns));
            factor.register_parameter("weight", weight);
            var dict = new Container("ModuleDict");
            dict.register_module("default", factor);
            register_module(name, dict);
            return weight;
        }

        public TorchTensor Forward(TorchTensor x, bool training)
        {
            TorchTensor y = matmul(x, _weight) + _bias;
            if (_lora.Length == 0) return y;
            TorchTensor dropped = nn.functional.dropout(x, _dropout, training);
            return y + matmul(matmul(dropped, _lora[0].t()), _lora[1].t()) * _scaling;
        }
    }

    private sealed class Block : nn.Module
    {
        private readonly Norm _ln1, _ln2;
        private readonly Projection _cAttn, _attnProj, _cFc, _mlpProj;
        private readonly int _heads, _headDim, _layer;
        private readonly bool _scaleWeights, _scaleByLayer, _tanhGelu;
        private readonly double _attnPdrop, _residPdrop;

        public Block(Gpt2Config config, int layer) : base("GPT2Block")
        {
            _heads = config.NHead;
            _headDim = config.HeadDim;
            _layer = layer;
            _scaleWeights = config.ScaleAttnWeights;
            _scaleByLayer = config.ScaleAttnByInverseLayerIdx;
            _tanhGelu = config.ActivationFunction == "gelu_new";
            _attnPdrop = config.AttnPdrop;
            _residPdrop = config.ResidPdrop;
            int c = config.NEmbd;
            LoraConfig? Lora(string name) => config.Lora is { } l && l.TargetModules.Any(t => name == t || name.EndsWith("." + t, StringComparison.Ordinal)) ? l : null;
            _ln1 = new Norm(c, config.LayerNormEpsilon);
            _cAttn = new Projection(c, 3 * c, Lora("attn.c_attn"));
            _attnProj = new Projection(c, c, Lora("attn.c_proj"));
            _ln2 = new Norm(c, config.LayerNormEpsilon);
            _cFc = new Projection(c, config.NInner, Lora("mlp.c_fc"));
            _mlpProj = new Projection(config.NInner, c, Lora("mlp.c_proj"));
            register_module("ln_1", _ln1);
            var attn = new Container("GPT2Attention");
            attn.register_module("c_attn", _cAttn);
            attn.register_module("c_proj", _attnProj);
            register_module("attn", attn);
            register_module("ln_2", _ln2);
            var mlp = new Container("GPT2MLP");
            mlp.register_module("c_fc", _cFc);
            mlp.register_module("c_proj", _mlpProj);
            register_module("mlp", mlp);
        }

        public TorchTensor Forward(TorchTensor x, TorchTensor causal, TorchTensor additive, bool training)
        {
            long b = x.shape[0], t = x.shape[1], c = x.shape[2];
            TorchTensor[] qkv = _cAttn.Forward(_ln1.Forward(x), training).split(c, dim: 2);
            TorchTensor Heads(TorchTensor z) => z.view(b, t, _heads, _headDim).permute(0, 2, 1, 3);
            TorchTensor q = Heads(qkv[0]), k = Heads(qkv[1]), v = Heads(qkv[2]);
            TorchTensor w = matmul(q, k.transpose(-1, -2));
            if (_scaleWeights) w = w / Math.Sqrt(_headDim);
            if (_scaleByLayer) w = w / (double)(_layer + 1);
            w = where(causal, w, full([], float.MinValue, dtype: ScalarType.Float32)) + additive;
            TorchTensor p = nn.functional.dropout(nn.functional.softmax(w, -1), _attnPdrop, training);
            TorchTensor o = matmul(p, v).permute(0, 2, 1, 3).reshape(b, t, c);
            TorchTensor h = x + nn.functional.dropout(_attnProj.Forward(o, training), _residPdrop, training);
            TorchTensor f = _cFc.Forward(_ln2.Forward(h), training);
            f = _tanhGelu
                ? 0.5 * f * (1.0 + tanh(Math.Sqrt(2.0 / Math.PI) * (f + 0.044715 * pow(f, 3.0))))
                : nn.functional.gelu(f);
            return h + nn.functional.dropout(_mlpProj.Forward(f, training), _residPdrop, training);
        }
    }
}
