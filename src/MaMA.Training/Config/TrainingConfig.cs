using System.Text.Json.Serialization;
using MaMA.Distributed.DataParallel;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;

namespace MaMA.Training.Config;

/// <summary>Arithmetic of the training step: fp32 throughout, or bf16 compute with fp32 master weights.</summary>
[JsonConverter(typeof(MaMA.Engine.Serialization.StringEnumConverter<Precision>))]
public enum Precision
{
    [JsonStringEnumMemberName("fp32")]
    Fp32,

    /// <summary>
    /// bf16 operands in matmuls, LoRA, attention and loss similarities (fp32 accumulation), fp32 master
    /// weights, gradients and optimizer state; on CPU backends by rounding (same numerics, slower). See MixedPrecision.
    /// </summary>
    [JsonStringEnumMemberName("bf16")]
    Bf16,
}

/// <summary>
/// <c>mama pretrain --config FILE.json</c>: everything a pre-training run depends on, in snake_case
/// JSON (see <see cref="TrainingConfigFile"/>; unknown keys are errors). The defaults are the
/// paper's setting (SPEC section 7) except <see cref="Model"/>, which must be given.
/// </summary>
public sealed record TrainingConfig
{
    /// <summary>"tiny" (MaMAConfig.Tiny, random init), "paper" (MaMAConfig.Paper, random init), or a model directory / config.json path.</summary>
    public string Model { get; init; } = "tiny";

    /// <summary>An EMBED-shaped folder (docs/data.md); null writes and uses the synthetic dataset inside the run folder.</summary>
    public string? Data { get; init; }

    /// <summary>Studies of the synthetic dataset when <see cref="Data"/> is null.</summary>
    public int SyntheticStudies { get; init; } = 24;

    /// <summary>Width of the synthetic images (height 1.25 x width) when <see cref="Data"/> is null.</summary>
    public int SyntheticWidth { get; init; } = 128;

    /// <summary>Seed of the patient split file created on first use of a data folder.</summary>
    public ulong SplitSeed { get; init; }

    /// <summary>auto | cuda | opencl | cpu | ilgpu-cpu; <c>--device</c> overrides it.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Seed of the model initialisation, the LoRA dropout streams and the data order, crops, pairing and masking.</summary>
    public ulong Seed { get; init; }

    public OptimizerSettings Optimizer { get; init; } = new();

    public ScheduleSettings Schedule { get; init; } = new();

    public BatchSettings Batch { get; init; } = new();

    public Precision Precision { get; init; } = Precision.Bf16;

    /// <summary>
    /// On several ranks: per_rank (reference mode, the published DDP run) scores CLIP and SLA within
    /// each rank's batch.micro_batch pairs and NT-Xent over the global batch; global scores every term
    /// over the global batch, so R ranks train as one process would on the global micro-batch. One
    /// process: no difference. docs/distributed.md.
    /// </summary>
    public Negatives Negatives { get; init; } = Negatives.PerRank;

    /// <summary>Recompute the encoder blocks' activations in backward (less memory, one more forward).</summary>
    public bool ActivationCheckpointing { get; init; } = true;

    /// <summary>Maximum global L2 norm of the gradients; 0 turns clipping off (the published run does not clip).</summary>
    public double GradClip { get; init; }

    /// <summary>Probability that a training report is meta-masked (SPEC section 1).</summary>
    public double MaskRatio { get; init; } = 1.0;

    /// <summary>Probability that each meta field of a masked report becomes "unknown".</summary>
    public double MaskMeta { get; init; } = 0.8;

    /// <summary>Probability that view 2 is another image of the same study ("inter-side" pairing).</summary>
    public double PairProbability { get; init; } = 0.5;

    /// <summary>
    /// Smallest area share of the training RandomResizedCrop (the published transform's 0.08). At
    /// small image sizes a crop that small zooms past the findings a report describes; the demo raises it.
    /// </summary>
    public double CropScaleMin { get; init; } = 0.08;

    /// <summary>Threads preparing each batch.</summary>
    public int Workers { get; init; } = 4;

    /// <summary>A checkpoint every this many optimizer steps (and always at the end).</summary>
    public int CheckpointEvery { get; init; } = 1000;

    /// <summary>Newest checkpoints kept in the run folder.</summary>
    public int KeepLast { get; init; } = 3;

    /// <summary>Consecutive non-finite (NaN/Inf) steps after which the run stops; each one is skipped and counted.</summary>
    public int MaxNonfiniteInARow { get; init; } = 20;

    /// <summary>A metrics.jsonl line every this many optimizer steps.</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Validation (mean losses and retrieval accuracy on the valid split) every this many steps; 0 = never.</summary>
    public int EvalEvery { get; init; }

    /// <summary>Micro-batches of the valid split per validation.</summary>
    public int EvalBatches { get; init; } = 8;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad key.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Model)) throw new ArgumentException("model must be \"tiny\", \"paper\" or a model directory.");
        if (SyntheticStudies < 1) throw new ArgumentException($"synthetic_studies must be at least 1, not {SyntheticStudies}.");
        if (SyntheticWidth is < 64 or > 4096) throw new ArgumentException($"synthetic_width must be in 64..4096, not {SyntheticWidth}.");
        Optimizer.Validate();
        Schedule.Validate(Optimizer.Lr);
        Batch.Validate();
        if (!Enum.IsDefined(Negatives)) throw new ArgumentException($"negatives must be \"per_rank\" or \"global\", not {Negatives}.");
        if (!(GradClip >= 0.0) || double.IsInfinity(GradClip)) throw new ArgumentException($"grad_clip must be finite and >= 0, not {GradClip}.");
        CheckProbability("mask_ratio", MaskRatio);
        CheckProbability("mask_meta", MaskMeta);
        CheckProbability("pair_probability", PairProbability);
        if (!(CropScaleMin > 0.0 && CropScaleMin <= 1.0)) throw new ArgumentException($"crop_scale_min must be in (0, 1], not {CropScaleMin}.");
        if (Workers < 1) throw new ArgumentException($"workers must be at least 1, not {Workers}.");
        if (CheckpointEvery < 1) throw new ArgumentException($"checkpoint_every must be at least 1, not {CheckpointEvery}.");
        if (KeepLast < 1) throw new ArgumentException($"keep_last must be at least 1, not {KeepLast}.");
        if (MaxNonfiniteInARow < 1) throw new ArgumentException($"max_nonfinite_in_a_row must be at least 1, not {MaxNonfiniteInARow}.");
        if (LogEvery < 1) throw new ArgumentException($"log_every must be at least 1, not {LogEvery}.");
        if (EvalEvery < 0) throw new ArgumentException($"eval_every must be >= 0, not {EvalEvery}.");
        if (EvalBatches < 1) throw new ArgumentException($"eval_batches must be at least 1, not {EvalBatches}.");
    }

    private static void CheckProbability(string key, double value)
    {
        if (!(value >= 0.0 && value <= 1.0)) throw new ArgumentException($"{key} must be in [0, 1], not {value}.");
    }
}

/// <summary>AdamW with decoupled weight decay, over every parameter unless <see cref="ExcludeFromDecay"/>.</summary>
public sealed record OptimizerSettings
{
    /// <summary>Peak learning rate (reached at the end of the warm-up).</summary>
    public double Lr { get; init; } = 4e-5;

    public double WeightDecay { get; init; } = 0.1;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.999;

    public double Eps { get; init; } = 1e-8;

    /// <summary>
    /// False (reference mode, the default): one group, every parameter decayed, as the published
    /// <c>configure_optimizers</c> hands <c>self.parameters()</c> to AdamW; the logit and local
    /// scales, norms, biases, LayerScale gammas and position embeddings decay too. True: those
    /// (<see cref="Parameter.NoWeightDecay"/>) go to a group without decay
    /// (<see cref="ParamGroup.DecayAndNoDecay"/>), the usual practice for transformers.
    /// </summary>
    public bool ExcludeFromDecay { get; init; }

    /// <summary>The optimizer's parameter groups at the peak learning rate (the schedule sets it per step).</summary>
    public ParamGroup[] ParamGroups(IEnumerable<Parameter> parameters) => ExcludeFromDecay
        ? ParamGroup.DecayAndNoDecay(parameters, Lr, WeightDecay)
        : [new ParamGroup(parameters, Lr, WeightDecay, "all")];

    public void Validate()
    {
        if (!(Lr > 0.0) || double.IsInfinity(Lr)) throw new ArgumentException($"optimizer.lr must be positive and finite, not {Lr}.");
        if (!(WeightDecay >= 0.0)) throw new ArgumentException($"optimizer.weight_decay must be >= 0, not {WeightDecay}.");
        if (!(Beta1 >= 0.0 && Beta1 < 1.0)) throw new ArgumentException($"optimizer.beta1 must be in [0, 1), not {Beta1}.");
        if (!(Beta2 >= 0.0 && Beta2 < 1.0)) throw new ArgumentException($"optimizer.beta2 must be in [0, 1), not {Beta2}.");
        if (!(Eps >= 0.0)) throw new ArgumentException($"optimizer.eps must be >= 0, not {Eps}.");
    }
}

/// <summary>Linear warm-up from <see cref="MinLr"/> to optimizer.lr, then a cosine down to <see cref="MinLr"/> at <see cref="MaxSteps"/>.</summary>
public sealed record ScheduleSettings
{
    public long WarmupSteps { get; init; } = 4000;

    /// <summary>Optimizer steps of the run (each of batch.micro_batch x batch.accumulation pairs).</summary>
    public long MaxSteps { get; init; } = 40000;

    public double MinLr { get; init; } = 1e-8;

    public void Validate(double peak)
    {
        if (MaxSteps < 1) throw new ArgumentException($"schedule.max_steps must be at least 1, not {MaxSteps}.");
        if (WarmupSteps < 0 || WarmupSteps > MaxSteps) throw new ArgumentException($"schedule.warmup_steps must be in [0, max_steps = {MaxSteps}], not {WarmupSteps}.");
        if (!(MinLr >= 0.0 && MinLr <= peak)) throw new ArgumentException($"schedule.min_lr must be in [0, optimizer.lr = {peak}], not {MinLr}.");
    }
}

/// <summary>One optimizer step = <see cref="Accumulation"/> micro-batches of <see cref="MicroBatch"/> image-report pairs.</summary>
public sealed record BatchSettings
{
    /// <summary>Pairs per forward (the contrastive losses see this many; the paper: 36 per GPU).</summary>
    public int MicroBatch { get; init; } = 36;

    /// <summary>Micro-batches whose gradients are summed (then averaged) before one optimizer step.</summary>
    public int Accumulation { get; init; } = 2;

    public void Validate()
    {
        if (MicroBatch < 2) throw new ArgumentException($"batch.micro_batch must be at least 2 (contrastive losses need negatives), not {MicroBatch}.");
        if (Accumulation < 1) throw new ArgumentException($"batch.accumulation must be at least 1, not {Accumulation}.");
    }
}
