using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Engine.Nn;

/// <summary>
/// A linear layer with a LoRA adapter, as PEFT wraps GPT-2's c_attn:
/// y = x W + b + scaling * dropout(x) A^T B^T (<see cref="Ops.LoraLinear"/>), scaling = alpha / r.
/// The base weight and bias are frozen parameters named like the checkpoint ("weight", "bias"); the
/// adapter lives in child modules so the state-dict keys are PEFT's in-memory ones:
/// <c>weight</c>, <c>bias</c>, <c>lora_A.default.weight</c> [r, in], <c>lora_B.default.weight</c> [out, r].
/// Initialisation per PEFT: A Kaiming-uniform (a = sqrt 5, i.e. U(-1/sqrt(in), 1/sqrt(in))) from the
/// given <see cref="Random"/>, B zeros, so a fresh adapter leaves the layer's output unchanged. The
/// base weight starts as HF's Conv1D (N(0, 0.02), bias 0) or torch.nn.Linear (U(+-1/sqrt(in)))
/// initialisation and is normally overwritten from a checkpoint.
/// </summary>
public sealed class LoraLinear : Module, IStochasticModule
{
    /// <summary>PEFT's adapter name.</summary>
    public const string DefaultAdapter = "default";

    private bool _merged;

    public LoraLinear(int inFeatures, int outFeatures, WeightLayout layout, Random rng, int rank = 8, float alpha = 32f, float dropout = 0.1f,
        bool bias = true, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        if (!(dropout >= 0f && dropout <= 1f)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "LoRA dropout must be in [0, 1].");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Layout = layout;
        Rank = rank;
        Alpha = alpha;
        Scaling = alpha / rank;
        DropoutProbability = dropout;

        int[] weightShape = layout == WeightLayout.Conv1D ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
        double bound = inFeatures > 0 ? 1.0 / Math.Sqrt(inFeatures) : 0.0;
        // Conv1D (GPT-2): N(0, 0.02) and a zero bias, as HF; Linear: torch.nn.Linear's kaiming-uniform for both.
        Tensor w = layout == WeightLayout.Conv1D ? WeightInit.Normal(rng, weightShape, 0.02, device) : WeightInit.Uniform(rng, weightShape, bound, device);
        Weight = RegisterParameter("weight", w);
        Weight.Freeze();
        if (bias)
        {
            Tensor b = layout == WeightLayout.Conv1D ? Tensor.Zeros([outFeatures], DType.Float32, device) : WeightInit.Uniform(rng, [outFeatures], bound, device);
            Bias = RegisterParameter("bias", b, noWeightDecay: true);
            Bias.Freeze();
        }

        LoraAAdapters = RegisterModule("lora_A", new LoraAdapterDict());
        LoraBAdapters = RegisterModule("lora_B", new LoraAdapterDict());
        LoraAAdapters.Add(DefaultAdapter, new LoraFactor(WeightInit.Uniform(rng, [rank, inFeatures], bound, device)));
        LoraBAdapters.Add(DefaultAdapter, new LoraFactor(Tensor.Zeros([outFeatures, rank], DType.Float32, device)));
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    public WeightLayout Layout { get; }

    /// <summary>r.</summary>
    public int Rank { get; }

    /// <summary>lora_alpha.</summary>
    public float Alpha { get; }

    /// <summary>alpha / r (4 for MaMA's r 8, alpha 32).</summary>
    public float Scaling { get; }

    /// <summary>Dropout on the LoRA input while training.</summary>
    public float DropoutProbability { get; set; }

    /// <summary>Philox key of the dropout masks.</summary>
    public ulong DropoutSeed { get; set; }

    /// <summary>Philox offset of the next training forward's mask; <see cref="Forward(Tensor)"/> advances it by one per call with dropout.</summary>
    public ulong DropoutOffset { get; set; }

    /// <summary>Frozen base weight, [in, out] (Conv1D) or [out, in] (Linear).</summary>
    public Parameter Weight { get; }

    /// <summary>Frozen base bias [out], if any.</summary>
    public Parameter? Bias { get; }

    /// <summary>The "lora_A" container (adapters by name).</summary>
    public LoraAdapterDict LoraAAdapters { get; }

    /// <summary>The "lora_B" container (adapters by name).</summary>
    public LoraAdapterDict LoraBAdapters { get; }

    /// <summary>lora_A.default.weight, [r, in].</summary>
    public Parameter LoraA => LoraAAdapters[DefaultAdapter].Weight;

    /// <summary>lora_B.default.weight, [out, r].</summary>
    public Parameter LoraB => LoraBAdapters[DefaultAdapter].Weight;

    /// <summary>True while the adapter is folded into <see cref="Weight"/> (see <see cref="Merge"/>).</summary>
    public bool IsMerged => _merged;

    /// <summary>x [..., in] -> [..., out]; in training with dropout the mask uses (DropoutSeed, DropoutOffset) and advances the offset.</summary>
    public Tensor Forward(Tensor x)
    {
        bool drop = IsTraining && DropoutProbability > 0f && !_merged;
        ulong offset = DropoutOffset;
        if (drop) DropoutOffset++;
        return Forward(x, DropoutSeed, offset);
    }

    /// <summary>x [..., in] -> [..., out] with an explicit dropout (seed, offset) (used only in training).</summary>
    public Tensor Forward(Tensor x, ulong seed, ulong offset)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (_merged)
        {
            // The adapter is inside W: the plain layer (no dropout, as PEFT's merged forward).
            if (x.Rank == 0 || x.Shape[^1] != InFeatures)
                throw new ArgumentException($"LoraLinear({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} does not end in {InFeatures}.", nameof(x));
            Tensor y = Ops.MatMul(x.Rank == 1 ? x.Reshape(1, InFeatures) : x, Weight, transposeB: Layout == WeightLayout.Linear);
            if (Bias is not null) y = Ops.Add(y, Bias);
            return x.Rank == 1 ? y.Reshape(OutFeatures) : y;
        }
        // Inside DropoutRows.Scope (a data-parallel rank) the mask of each element is the one it has in the whole batch.
        return Ops.LoraLinear(x, Weight, Bias, LoraA, LoraB, Scaling, Layout, DropoutProbability, seed, offset, IsTraining, DropoutRows.ElementBase(x));
    }

    /// <summary>
    /// A fused attention projection's heads (PEFT on GPT-2's c_attn): x [B, T, in] -> [S, B, H, T, D]
    /// contiguous (out = S H D), the same values as <see cref="Forward(Tensor)"/> reshaped to
    /// [B, T, S, H, D] and permuted (2, 0, 3, 1, 4), with the same dropout stream. The LoRA epilogue
    /// adds the bias and <see cref="Ops.BiasSplitHeads"/> (given no bias) splits the heads in one
    /// pass, in bf16 under autocast; a merged layer adds its bias in that pass instead.
    /// </summary>
    public Tensor ForwardSplitHeads(Tensor x, int parts, int heads)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 3 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"LoraLinear({InFeatures} -> {OutFeatures}): input of shape {Shape.Format(x.Shape)} is not [B, T, {InFeatures}].", nameof(x));
        if (_merged) return Ops.BiasSplitHeads(Ops.MatMul(x, Weight, transposeB: Layout == WeightLayout.Linear), Bias, parts, heads);
        return Ops.BiasSplitHeads(Forward(x), bias: null, parts, heads);
    }

    /// <summary>Folds the adapter into the base weight (W += scaling * delta); a no-op when already merged.</summary>
    public void Merge()
    {
        if (_merged) return;
        LoraAdapter.Merge(Weight, LoraA, LoraB, Scaling, Layout);
        _merged = true;
    }

    /// <summary>Takes the adapter back out of the base weight (W -= scaling * delta); a no-op when not merged.</summary>
    public void Unmerge()
    {
        if (!_merged) return;
        LoraAdapter.Unmerge(Weight, LoraA, LoraB, Scaling, Layout);
        _merged = false;
    }
}

/// <summary>Adapters by name (PEFT's ModuleDict under lora_A / lora_B): children "default", ...</summary>
public sealed class LoraAdapterDict : Module
{
    private readonly Dictionary<string, LoraFactor> _adapters = new(StringComparer.Ordinal);

    public void Add(string name, LoraFactor factor) => _adapters[name] = RegisterModule(name, factor);

    public LoraFactor this[string name] => _adapters.TryGetValue(name, out LoraFactor? f) ? f : throw new KeyNotFoundException($"No LoRA adapter named '{name}'.");

    public IEnumerable<string> Names => _adapters.Keys;
}

/// <summary>One LoRA factor matrix (PEFT's bias-free nn.Linear): the trainable parameter "weight".</summary>
public sealed class LoraFactor : Module
{
    public LoraFactor(Tensor weight) => Weight = RegisterParameter("weight", weight);

    public Parameter Weight { get; }
}
