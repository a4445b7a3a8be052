using System.Diagnostics;
using System.Globalization;
using MaMA.Data.Loading;
using MaMA.Data.Images.Transforms;
using MaMA.Data.Reports;
using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Memory;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Tensors;
using MaMA.Evaluation.Plots;
using MaMA.Model.Checkpoints;
using MaMA.Model.MaMA;
using MaMA.Training.Checkpoints;
using MaMA.Training.Config;
using MaMA.Training.Data;
using MaMA.Training.Guards;
using MaMA.Training.Numerics;
using MaMA.Training.Runs;
using MaMA.Training.Schedules;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Training.Pretraining;

/// <summary>
/// MaMA pre-training (SPEC sections 6 and 7). One optimizer step s (0-based):
/// <list type="number">
/// <item>lr = schedule(s) on both parameter groups (decay / no_decay);</item>
/// <item>for each of batch.accumulation micro-batches: forward at global step s (the model switches
/// in the late terms and unfreezes the local heads from its late-loss step), backward of
/// loss / accumulation (gradients sum, so they are the mean over the step's micro-batches);</item>
/// <item>the global gradient norm (clipped to grad_clip when set); a NaN/Inf loss or norm skips the
/// update (BatchNorm statistics restored, counted, the run stops after max_nonfinite_in_a_row);</item>
/// <item>AdamW update; metrics every log_every steps, validation every eval_every, a checkpoint
/// every checkpoint_every and at the end.</item>
/// </list>
/// Determinism: model init, LoRA dropout streams and data are seeded; on CPU the kernels reduce in
/// a fixed order, so a run resumed from a checkpoint reproduces the uninterrupted one.
/// <para>
/// Data parallel (an <see cref="ICommunicator"/> of R ranks, docs/distributed.md): the loader yields
/// global micro-batches of G pairs (G = batch.micro_batch x R when the run starts, then kept in every
/// checkpoint so a resume on R' ranks trains on the same batches); rank r forwards rows
/// [r G/R, (r+1) G/R); the contrastive terms take their negatives as <c>negatives</c> says (per rank:
/// CLIP and SLA over the rank's rows, NT-Xent over the gathered global batch, as the published run;
/// global: every term over the gathered global batch); after the
/// accumulation loop the gradients are averaged over the ranks, so the norm, clipping, the NaN guard
/// and AdamW see the same global gradient everywhere and the replicas stay identical (checked at
/// every checkpoint). Rank 0 alone writes the run folder (config, synthetic data, metrics, plots,
/// checkpoints, final/) and validates; the others wait at a barrier where it writes.
/// </para>
/// </summary>
public sealed class Pretrainer
{
    private readonly TrainingConfig _config;
    private readonly Device _device;
    private readonly RunFolder _run;
    private readonly bool _resume;
    private readonly Action<string> _say;
    private readonly ICommunicator _comm;

    /// <param name="config">The run's configuration (for a resume: the replacement, or null to use the folder's).</param>
    /// <param name="runDir">The run folder.</param>
    /// <param name="resume">Continue from the newest good checkpoint of <paramref name="runDir"/>.</param>
    /// <param name="device">Where to train.</param>
    /// <param name="say">Messages for a person (default: stderr); only rank 0 speaks.</param>
    /// <param name="communicator">The ranks training together (default: this process alone). Every rank constructs a Pretrainer with the same arguments.</param>
    public Pretrainer(TrainingConfig? config, string runDir, bool resume, Device device, Action<string>? say = null, ICommunicator? communicator = null)
    {
        _comm = communicator ?? SingleProcessCommunicator.Instance;
        Action<string> speak = say ?? (m => Console.Error.WriteLine(m));
        _say = _comm.Rank == 0 ? speak : _ => { };
        _device = device;
        _resume = resume;
        (_run, _config) = _comm.Rank == 0 ? Open(config, runDir, resume) : (null!, null!);
        // Rank 0 has written config.json (new run or changed config); every other rank reads that copy.
        _comm.Barrier();
        if (_comm.Rank != 0) (_run, _config) = RunFolder.OpenForResume(runDir, null, _ => { });
    }

    private (RunFolder, TrainingConfig) Open(TrainingConfig? config, string runDir, bool resume)
    {
        if (resume) return RunFolder.OpenForResume(runDir, config, m => _say("warning: " + m));
        config = config ?? throw new ArgumentNullException(nameof(config), "A new run needs a config.");
        config.Validate();
        return (RunFolder.CreateNew(runDir, config), config);
    }

    public ICommunicator Communicator => _comm;

    private bool IsRoot => _comm.Rank == 0;

    public TrainingConfig Config => _config;

    public RunFolder Run => _run;

    /// <summary>Tests: called with (step, micro-batch index, batch) before each forward, e.g. to put NaNs in.</summary>
    internal Action<long, int, MammoBatch>? BatchHook { get; init; }

    /// <summary>Tests: after this many completed steps the run ends as if killed (no further checkpoint, no final files).</summary>
    internal long? KillAfterStep { get; init; }

    /// <summary>
    /// End this session after this many completed steps with a checkpoint there and no final/ (exit as
    /// an unfinished run; --resume continues): for jobs with a time limit (one Slurm job per part of
    /// the run) and for resume tests. Null: run to schedule.max_steps.
    /// </summary>
    public long? StopAfterStep { get; init; }

    /// <summary>Tests: plain progress lines go here instead of the console.</summary>
    internal TextWriter? ProgressOutput { get; init; }

    public PretrainResult Train(CancellationToken cancellation = default)
    {
        // The lock keeps a second run out of the folder; the ranks of this run share it through rank 0.
        using RunLock? runLock = IsRoot ? RunLock.Acquire(_run.Root) : null;
        ModelSource.Resolved source = ModelSource.Resolve(_config.Model, _config.ActivationCheckpointing);
        ReportPrecision();
        var tokenizer = ModelSource.Tokenizer(source); // before the model: a missing tokenizer fails in seconds, not after a 2.7 B build
        MaMAModel model = ModelSource.Build(source, _config.Seed, _device);
        model.Train();
        TrainedPart trained = TrainedPart.Of(model, _config.Model, source.WeightsDirectory);
        // Rank 0 writes the synthetic dataset and the patient splits; the others read them after it.
        TrainingData data = OnRootFirst(() => TrainingData.Open(_config.Data, _run.SyntheticDataDir, _config.SyntheticStudies, _config.SyntheticWidth, _config.Seed, _config.SplitSeed, _say));

        var optimizer = new AdamW(_config.Optimizer.ParamGroups(model.Parameters()),
            _config.Optimizer.Beta1, _config.Optimizer.Beta2, _config.Optimizer.Eps);
        var schedule = new WarmupCosineSchedule(_config.Optimizer.Lr, _config.Schedule.MinLr, _config.Schedule.WarmupSteps, _config.Schedule.MaxSteps);
        var store = new CheckpointStore(_run.CheckpointsDir, _config.KeepLast, m => _say("warning: " + m));
        if (IsRoot) store.RemoveTemporaries();

        long start = 0;
        var position = new DataPosition(0, 0);
        var guard = new NonFiniteGuard(_config.MaxNonfiniteInARow);
        int globalBatch = _config.Batch.MicroBatch * _comm.Size;
        if (_resume)
        {
            if (LoadCheckpoint(store) is { } checkpoint)
            {
                trained.Load(model, checkpoint);
                OptimizerStateFile.Load(optimizer, model, checkpoint.OptimizerPath);
                RestoreStreams(model, checkpoint.State.RandomStreams);
                start = checkpoint.State.Step;
                position = checkpoint.State.Data;
                guard = new NonFiniteGuard(_config.MaxNonfiniteInARow, checkpoint.State.SkippedTotal, checkpoint.State.SkippedInARow);
                globalBatch = GlobalBatchOf(checkpoint.State);
                _say($"resuming from {checkpoint.Folder} (step {start}, epoch {position.Epoch} batch {position.Batch}, global micro-batch {globalBatch})");
            }
            else
            {
                _say($"no checkpoint in {_run.CheckpointsDir}: starting from step 0");
            }
        }
        var shard = new DataShard(_comm.Rank, _comm.Size, globalBatch);
        _ = shard.Count; // throws, naming the sizes, when the global micro-batch does not split over the ranks
        // Identical replicas from here on: rank 0's trained weights and buffers (built or resumed)
        // everywhere, checked. The frozen base is not sent: every rank built it from the same files
        // or seed and hashed it (TrainedPart.Of); Verify compares those digests.
        var frozenPart = FrozenPart.FromSha256(trained.Frozen.Names, trained.Frozen.Sha256);
        if (_comm.Size > 1)
        {
            long sent = ParameterSync.BroadcastFromRoot(_comm, model, frozenPart);
            ParameterSync.Verify(_comm, model, frozenPart);
            _say($"replicas: {sent / 1e6:F1} MB broadcast from rank 0; frozen base ({trained.Frozen.Bytes / 1e6:F1} MB) checked by digest on every rank");
        }
        var bucketer = _comm.Size > 1 ? new GradientBucketer(_comm, model.Parameters()) : null;
        var forward = new DistributedMaMAForward(_comm, model, _config.Negatives);

        int side = source.Config.Vision.ImageSize;
        var transform = new MammoTransformOptions { ImageSize = side, CropSize = side };
        // Each rank decodes only its own rows of every global micro-batch (identical to those rows of the whole batch).
        var loader = new MammoLoader(data.Train, tokenizer, new LoaderOptions
        {
            BatchSize = globalBatch,
            RowStart = shard.Start,
            RowCount = shard.Count,
            Seed = _config.Seed,
            PairProbability = _config.PairProbability,
            Masking = new MetaMasking(_config.MaskRatio, _config.MaskMeta, _config.Seed),
            Workers = _config.Workers,
            Transform = transform with { ScaleMin = _config.CropScaleMin },
        });
        // Validation runs on rank 0 alone (eval mode: no BatchNorm update, no collective), on micro-batches
        // of the size the training losses score: a rank's share with per-rank negatives, else the global one.
        int validBatch = _config.Negatives == Negatives.PerRank ? shard.Count : globalBatch;
        MammoLoader? validLoader = IsRoot && data.Valid.Count >= validBatch
            ? new MammoLoader(data.Valid, tokenizer, new LoaderOptions
            {
                BatchSize = validBatch, Training = false, DropLast = true, Workers = _config.Workers, Transform = transform,
            })
            : null;
        if (_config.EvalEvery > 0 && validLoader is null)
            _say($"note: the valid split has {data.Valid.Count} images, fewer than one micro-batch of {validBatch}; no validation.");

        model.ApplyFreezing(start);
        long trainable = model.Parameters().Where(p => !p.IsFrozen).Sum(p => p.Numel);
        _say($"model {_config.Model}: {model.ParameterCount:N0} parameters ({trainable:N0} trainable at step {start}); " +
             $"{data.Train.Count} training images, {loader.BatchesPerEpoch} micro-batches of {globalBatch} per epoch; " +
             $"{_config.Batch.Accumulation} per step; device {_device.Name}; {RanksText(shard)}; checkpoints leave out {trained.Frozen.Names.Count} frozen tensors ({trained.Frozen.Bytes / 1e6:F1} MB)");

        using MetricsLog? metrics = IsRoot ? new MetricsLog(_run.MetricsPath, _resume ? start : null) : null;
        // The lowest validation loss so far and its model (RUN/best); a resume reads the folder's own record.
        BestModel? best = IsRoot && validLoader is not null && _config.EvalEvery > 0 ? BestModel.Read(_run.BestModelDir) : null;
        using var stream = new BatchStream<MammoBatch>(loader, position, "lower batch.micro_batch or use more data");
        long maxSteps = _config.Schedule.MaxSteps;
        long lastSaved = start;
        int pairsPerStep = globalBatch * _config.Batch.Accumulation;
        StepMetrics? last = null;
        double lastImagesPerSecond = 0;
        string? stopMessage = null;
        var wall = Stopwatch.StartNew();

        long finished = ProgressReporter.Run("pretrain", maxSteps, start, progress =>
        {
            for (long s = start; s < maxSteps; s++)
            {
                cancellation.ThrowIfCancellationRequested();
                var clock = Stopwatch.StartNew();
                double lr = schedule.At(s);
                optimizer.SetLearningRate(lr);
                optimizer.ZeroGrad();
                BufferSnapshot buffers = BufferSnapshot.Take(model);
                var step = new StepMetrics();
                for (int micro = 0; micro < _config.Batch.Accumulation; micro++)
                {
                    MammoBatch batch = stream.Next();
                    BatchHook?.Invoke(s, micro, batch);
                    FaultInjection.OnBatch(s, micro, batch);
                    // The last micro-batch's backward starts the gradient buckets as their parameters become final.
                    using (micro == _config.Batch.Accumulation - 1 ? bucketer?.Overlap() : null)
                        RunMicroBatch(forward, batch, shard, s, step);
                }
                // The mean over the ranks before the norm: clipping and the NaN guard then decide the same on every rank.
                bucketer?.AllReduceMean();
                // Per-rank negatives: each rank's losses are its own batch's; the step's are their mean.
                if (_config.Negatives == Negatives.PerRank) step.MeanOverRanks(_comm);
                float gradNorm = _config.GradClip > 0
                    ? GradClip.ClipGradNorm(optimizer.Parameters, (float)_config.GradClip)
                    : GradClip.GradNorm(optimizer.Parameters);
                bool ok = guard.Check(step.Loss, gradNorm);
                if (ok) optimizer.Step();
                else
                {
                    buffers.Restore(model);
                    progress.Message($"step {s + 1}: non-finite loss {step.Loss} / gradient norm {gradNorm}; skipped ({guard.InARow} in a row, {guard.SkippedTotal} in all)");
                }
                // BatchNorm statistics come from each rank's own rows: rank 0's win (DDP's broadcast_buffers).
                ParameterSync.BroadcastBuffersFromRoot(_comm, model);
                optimizer.ZeroGrad();
                long done = s + 1;
                double seconds = clock.Elapsed.TotalSeconds;
                lastImagesPerSecond = pairsPerStep / Math.Max(seconds, 1e-9);
                last = step;

                if (done % _config.LogEvery == 0 || done == maxSteps || !ok)
                {
                    var values = step.Means().ToList();
                    values.Add(new("lr", lr));
                    values.Add(new("grad_norm", gradNorm));
                    values.Add(new("logit_scale", model.LogitScale.Item()));
                    values.Add(new("images_per_s", lastImagesPerSecond));
                    values.Add(new("step_seconds", seconds));
                    values.Add(new("memory_mb", _device.PeakAllocatedBytes / (1024.0 * 1024.0)));
                    values.Add(new("skipped_total", guard.SkippedTotal));
                    metrics?.Append(done, "train", values);
                }
                progress.Update(done, step.Summary(), lastImagesPerSecond);

                if (guard.ShouldStop)
                {
                    stopMessage = guard.StopMessage(done);
                    return done;
                }
                if (validLoader is not null && _config.EvalEvery > 0 && (done % _config.EvalEvery == 0 || done == maxSteps))
                {
                    StepMetrics valid = Validate(model, validLoader, s);
                    metrics?.Append(done, "eval", valid.Means("val_"));
                    progress.Message($"step {done}: validation {valid.Summary()}");
                    if (best is not null && best.Improves(valid.Loss))
                    {
                        double previous = best.Loss;
                        best.Save(valid.Loss, done, ModelConfigFile.ForMaMA(source.Config) with { Source = $"mama pretrain, {_run.Root}, step {done}, validation loss {valid.Loss:G6}" },
                            model.StateDict());
                        progress.Message($"step {done}: lowest validation loss so far ({valid.Loss:F4}{(double.IsFinite(previous) ? $", was {previous:F4}" : "")}): model written to {_run.BestModelDir}");
                    }
                }
                if (KillAfterStep is { } kill && done >= kill) return done;
                // A skipped step changes nothing, but its checkpoint would hide which state was the last good one.
                bool stopHere = StopAfterStep is { } stopAt && done >= stopAt && done < maxSteps;
                if ((done % _config.CheckpointEvery == 0 && guard.InARow == 0) || done == maxSteps || stopHere)
                {
                    // Every rank checks that the replicas agree before rank 0 writes them for all.
                    if (_comm.Size > 1) ParameterSync.Verify(_comm, model, frozenPart);
                    if (IsRoot)
                    {
                        Save(store, model, trained, optimizer, stream.Position, done, lr, guard, globalBatch);
                        Plot();
                    }
                    _comm.Barrier();
                    lastSaved = done;
                }
                if (stopHere)
                {
                    progress.Message($"step {done}: stopping as asked (--stop-after); continue with --resume");
                    return done;
                }
            }
            return maxSteps;
        }, plainEvery: _config.LogEvery, plain: ProgressOutput ?? (IsRoot ? null : TextWriter.Null));

        bool killed = (KillAfterStep is { } k && finished >= k || StopAfterStep is { } st && finished >= st) && finished < maxSteps;
        if (!killed && stopMessage is null && IsRoot)
        {
            ModelDirectory.Save(_run.FinalModelDir, ModelConfigFile.ForMaMA(source.Config) with { Source = $"mama pretrain, {_run.Root}, step {finished}" }, model.StateDict());
        }
        // No rank leaves (and finalises MPI) before rank 0 has written final/.
        _comm.Barrier();
        return new PretrainResult(finished, guard.SkippedTotal, last?.Loss ?? double.NaN, lastImagesPerSecond, wall.Elapsed, stopMessage, lastSaved);
    }

    /// <summary>Forward and backward of one micro-batch; its values are added to <paramref name="step"/>.</summary>
    /// <remarks>
    /// This rank's rows of the global micro-batch. With global negatives the loss (and the values
    /// added) are those of the whole global batch; with per-rank negatives they are this rank's, and
    /// the step averages them over the ranks afterwards (<see cref="StepMetrics.MeanOverRanks"/>).
    /// </remarks>
    private void RunMicroBatch(DistributedMaMAForward forward, MammoBatch batch, DataShard shard, long s, StepMetrics step)
    {
        try
        {
            using var rows = new ShardTensors(batch, shard, _device);
            // Forward and backward in the precision scope (activation recomputation repeats the forward's numerics),
            // and at this rank's place in the global micro-batch, so LoRA dropout draws one process's masks.
            using IDisposable precision = MixedPrecision.Scope(_config.Precision);
            using IDisposable place = DropoutRows.Scope(shard.Start, shard.Count);
            MaMAOutput output = _comm.Size == 1 ? forward.Model.Forward(rows.ToBatch(), s) : forward.Forward(rows.ToBatch(), s);
            step.Add(output);
            Tensor loss = _config.Batch.Accumulation == 1 ? output.Loss : Ops.Scale(output.Loss, 1f / _config.Batch.Accumulation);
            loss.Backward();
        }
        catch (DeviceOutOfMemoryException e)
        {
            // batch.micro_batch cannot go below 2 (the contrastive losses need negatives): past that, only
            // recomputation or more memory (a larger device, more ranks) helps.
            var remedies = new List<string>();
            if (_config.Batch.MicroBatch > 2)
                remedies.Add($"lower batch.micro_batch (e.g. to {Math.Max(2, shard.Count / 2)}) and raise batch.accumulation to keep the pairs per step");
            if (!_config.ActivationCheckpointing) remedies.Add("set activation_checkpointing to true");
            string advice = remedies.Count > 0
                ? string.Join(", or ", remedies)
                : "batch.micro_batch is at its minimum of 2 and activation checkpointing is on: use a device with more memory, or more ranks";
            throw new InvalidOperationException(
                $"Out of memory on {_device.Name} with {shard.Count} pairs per forward (batch.micro_batch = {_config.Batch.MicroBatch}, {_comm.Size} rank(s)): {advice}. ({e.Message})", e);
        }
    }

    private StepMetrics Validate(MaMAModel model, MammoLoader loader, long s)
    {
        var result = new StepMetrics();
        model.Eval();
        try
        {
            using IDisposable _ = GradMode.NoGrad();
            foreach (MammoBatch batch in loader.Epoch(0).Take(_config.EvalBatches))
            {
                using Tensor view1 = batch.View1Tensor(_device);
                using Tensor view2 = batch.View2Tensor(_device);
                using Tensor ids = batch.TokenIdsTensor(_device);
                using Tensor mask = batch.AttentionMaskTensor(_device);
                result.Add(model.Forward(new MaMABatch(view1, ids, mask, view2), s));
            }
        }
        finally
        {
            model.Train();
        }
        return result;
    }

    private void Save(CheckpointStore store, MaMAModel model, TrainedPart trained, AdamW optimizer, DataPosition position, long done, double lr, NonFiniteGuard guard, int globalBatch)
    {
        var state = new TrainingCheckpoint
        {
            Step = done,
            Data = position,
            LearningRate = lr,
            SkippedTotal = guard.SkippedTotal,
            SkippedInARow = guard.InARow,
            RandomStreams = model.NamedModules().Where(m => m.Module is IStochasticModule)
                .ToDictionary(m => m.Prefix.TrimEnd('.'), m => ((IStochasticModule)m.Module).DropoutOffset, StringComparer.Ordinal),
            Extra = new Dictionary<string, string>
            {
                ["seed"] = _config.Seed.ToString(CultureInfo.InvariantCulture),
                ["model"] = _config.Model,
                // The data position counts global micro-batches of this size; a resume on any number of ranks keeps it.
                [GlobalMicroBatchKey] = globalBatch.ToString(CultureInfo.InvariantCulture),
                ["ranks"] = _comm.Size.ToString(CultureInfo.InvariantCulture),
                [NegativesKey] = NegativesName(_config.Negatives),
            },
        };
        store.Save(state with { FrozenBase = trained.Frozen }, trained.StateDict(model), OptimizerStateFile.ToNamed(optimizer, model));
    }

    private const string GlobalMicroBatchKey = "global_micro_batch";

    private const string NegativesKey = "negatives";

    /// <summary>The config file's spelling ("per_rank", "global"), from the enum's JSON names.</summary>
    private static string NegativesName(Negatives negatives) => System.Text.Json.JsonSerializer.Serialize(negatives).Trim('"');

    /// <summary>The global micro-batch a checkpoint's data position counts (older, single-process checkpoints: batch.micro_batch).</summary>
    private int GlobalBatchOf(TrainingCheckpoint state)
    {
        if (!state.Extra.TryGetValue(GlobalMicroBatchKey, out string? text)) return _config.Batch.MicroBatch;
        int global = int.Parse(text, CultureInfo.InvariantCulture);
        if (global != _config.Batch.MicroBatch * _comm.Size)
            _say($"note: the run's global micro-batch is {global} pairs (from its checkpoints); on {_comm.Size} rank(s) that is {(global % _comm.Size == 0 ? (global / _comm.Size).ToString(CultureInfo.InvariantCulture) : "not a whole number of")} pairs per rank (batch.micro_batch {_config.Batch.MicroBatch} applies to new runs).");
        NoteNegativesChange(state, global);
        return global;
    }

    /// <summary>What a resume changes for the contrastive terms' negatives: a checkpoint from before the key (every term global then), or per-rank negatives on another rank count.</summary>
    private void NoteNegativesChange(TrainingCheckpoint state, int global)
    {
        int ranksBefore = state.Extra.TryGetValue("ranks", out string? r) ? int.Parse(r, CultureInfo.InvariantCulture) : 1;
        if (!state.Extra.TryGetValue(NegativesKey, out string? negatives) && ranksBefore > 1 && _config.Negatives != Negatives.Global)
            _say($"note: this run's checkpoints come from {ranksBefore} ranks before the negatives setting existed, when every contrastive term used the global batch; " +
                 "it continues with per-rank negatives for CLIP and SLA (the published run). Set \"negatives\": \"global\" in the config to keep the old objective.");
        else if (_config.Negatives == Negatives.PerRank && negatives == NegativesName(Negatives.PerRank) && ranksBefore != _comm.Size && global % _comm.Size == 0)
            _say($"note: with per-rank negatives, CLIP and SLA now score {global / _comm.Size} pairs per rank instead of {global / ranksBefore}: the objective changes with the number of ranks (\"negatives\": \"global\" does not).");
    }

    /// <summary>
    /// Rank 0 picks the newest good checkpoint (setting damaged ones aside) and tells the others its
    /// step; they read that folder (the run folder is shared). Null when there is none.
    /// </summary>
    private LoadedCheckpoint? LoadCheckpoint(CheckpointStore store)
    {
        LoadedCheckpoint? loaded = IsRoot ? store.LoadNewest() : null;
        long[] step = [loaded?.State.Step ?? -1];
        _comm.Broadcast<long>(step);
        if (IsRoot || step[0] < 0) return loaded;
        return CheckpointStore.Verify(Path.Combine(store.Root, CheckpointStore.FolderName(step[0])));
    }

    /// <summary>Runs <paramref name="make"/> on rank 0, then (after a barrier) on the other ranks.</summary>
    private T OnRootFirst<T>(Func<T> make)
    {
        T result = IsRoot ? make() : default!;
        _comm.Barrier();
        return IsRoot ? result : make();
    }

    private string RanksText(DataShard shard) => _comm.Size == 1
        ? "1 process"
        : $"{_comm.Size} ranks x {shard.Count} pairs ({_comm.Description}), " + (_config.Negatives == Negatives.PerRank
            ? $"CLIP and SLA negatives per rank ({shard.Count} pairs), NT-Xent over all {shard.Count * _comm.Size}"
            : $"every contrastive term over all {shard.Count * _comm.Size} pairs");

    private static void RestoreStreams(MaMAModel model, IReadOnlyDictionary<string, ulong> streams)
    {
        foreach ((string prefix, Module m) in model.NamedModules())
            if (m is IStochasticModule s && streams.TryGetValue(prefix.TrimEnd('.'), out ulong offset)) s.DropoutOffset = offset;
    }

    private void Plot()
    {
        try
        {
            LossCurvePlot.FromMetricsJsonl(_run.MetricsPath, _run.LossPlotPath, logY: false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            _say($"warning: could not draw {_run.LossPlotPath}: {e.Message}");
        }
    }

    private void ReportPrecision()
    {
        if (_config.Precision == Precision.Bf16) _say(MixedPrecision.Describe(_config.Precision, _device));
    }
}

/// <summary>What a pre-training run ended with.</summary>
/// <param name="Steps">Optimizer steps completed (skipped ones included).</param>
/// <param name="Skipped">Steps skipped for a non-finite loss or gradient.</param>
/// <param name="LastLoss">Mean loss of the last step.</param>
/// <param name="ImagesPerSecond">Image-report pairs per second of the last step.</param>
/// <param name="Elapsed">Wall time of the run (setup included).</param>
/// <param name="StopMessage">Why the run stopped early (too many non-finite steps in a row), or null.</param>
/// <param name="LastCheckpointStep">Step of the newest checkpoint written.</param>
public sealed record PretrainResult(long Steps, long Skipped, double LastLoss, double ImagesPerSecond, TimeSpan Elapsed, string? StopMessage, long LastCheckpointStep);
