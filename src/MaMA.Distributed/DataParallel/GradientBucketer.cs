using System.Diagnostics;
using MaMA.Distributed.Communication;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// Averages the gradients of a parameter list over the ranks (DDP's convention: the result is the
/// mean of the ranks' gradients), in buckets of about <see cref="BucketBytes"/>: each bucket's
/// gradients are flattened into one fp32 host buffer, reduced with a non-blocking all-reduce while
/// the next bucket is packed, then scaled by 1/R and written back as the parameters' Grad.
/// <para>
/// When: after backward. The engine's tape (Backprop.Run) accumulates into leaf gradients with no
/// per-parameter hook, so a bucket cannot be started while backward is still producing the others;
/// overlapping communication with backward needs such a hook (see docs/distributed.md). What overlaps
/// here is packing/unpacking with the reductions in flight.
/// </para>
/// <para>
/// A parameter without a gradient on every rank (frozen, or unused before the late-loss step) keeps
/// Grad = null, so the optimizer skips it exactly as in one process; one that has a gradient on some
/// rank only is reduced with zeros from the others. The list, its order and the bucket plan must be
/// the same on every rank (build it from Module.Parameters(), whose order is the state-dict order).
/// </para>
/// </summary>
public sealed class GradientBucketer
{
    /// <summary>PyTorch DDP's default bucket size.</summary>
    public const long DefaultBucketBytes = 25L * 1024 * 1024;

    private readonly ICommunicator _comm;
    private readonly Parameter[] _parameters;
    private readonly Dictionary<string, float[][]> _buffers = new(StringComparer.Ordinal);

    public GradientBucketer(ICommunicator comm, IEnumerable<Parameter> parameters, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(parameters);
        if (bucketBytes < 4) throw new ArgumentOutOfRangeException(nameof(bucketBytes), "a bucket holds at least one fp32 value.");
        _comm = comm;
        _parameters = parameters.ToArray();
        BucketBytes = bucketBytes;
    }

    public long BucketBytes { get; }

    /// <summary>Buckets of the last reduction.</summary>
    public int LastBucketCount { get; private set; }

    /// <summary>Gradient bytes this rank sent into the last reduction (fp32 elements x 4).</summary>
    public long LastBytes { get; private set; }

    /// <summary>Wall time of the last reduction (packing, collectives, unpacking).</summary>
    public TimeSpan LastElapsed { get; private set; }

    /// <summary>Replaces every parameter's gradient by its mean over the ranks.</summary>
    public void AllReduceMean()
    {
        var clock = Stopwatch.StartNew();
        // Which parameters have a gradient on any rank: one small reduction, so every rank builds the same plan.
        var present = new int[_parameters.Length];
        for (int i = 0; i < _parameters.Length; i++) present[i] = _parameters[i].Grad is null ? 0 : 1;
        _comm.AllReduceSum<int>(present);
        List<List<int>> plan = Plan(present);
        float[][] buffers = Buffers(present, plan);

        var pending = new IPendingReduction[plan.Count];
        for (int b = 0; b < plan.Count; b++)
        {
            Pack(plan[b], buffers[b]);
            pending[b] = _comm.StartAllReduceSum(buffers[b]);
        }
        float inv = 1f / _comm.Size;
        long bytes = 0;
        for (int b = 0; b < plan.Count; b++)
        {
            pending[b].Wait();
            Unpack(plan[b], buffers[b], inv);
            bytes += buffers[b].Length * 4L;
        }
        LastBucketCount = plan.Count;
        LastBytes = bytes;
        LastElapsed = clock.Elapsed;
    }

    /// <summary>Consecutive parameters (in list order) with a gradient somewhere, cut at the bucket size.</summary>
    private List<List<int>> Plan(int[] present)
    {
        var plan = new List<List<int>>();
        var current = new List<int>();
        long bytes = 0;
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (present[i] == 0) continue;
            long size = _parameters[i].Numel * 4L;
            if (current.Count > 0 && bytes + size > BucketBytes)
            {
                plan.Add(current);
                current = [];
                bytes = 0;
            }
            current.Add(i);
            bytes += size;
        }
        if (current.Count > 0) plan.Add(current);
        return plan;
    }

    /// <summary>Host buffers per plan, kept between steps (the plan changes only when freezing does).</summary>
    private float[][] Buffers(int[] present, List<List<int>> plan)
    {
        string key = string.Concat(present.Select(p => p == 0 ? '0' : '1'));
        if (_buffers.TryGetValue(key, out float[][]? cached)) return cached;
        float[][] made = plan.Select(bucket => new float[bucket.Sum(i => _parameters[i].Numel)]).ToArray();
        _buffers[key] = made;
        return made;
    }

    private void Pack(List<int> bucket, float[] buffer)
    {
        int at = 0;
        foreach (int i in bucket)
        {
            Parameter p = _parameters[i];
            int n = checked((int)p.Numel);
            if (p.Grad is { } g) g.ToFloatArray().CopyTo(buffer, at);
            else Array.Clear(buffer, at, n);
            at += n;
        }
    }

    private void Unpack(List<int> bucket, float[] buffer, float inv)
    {
        int at = 0;
        foreach (int i in bucket)
        {
            Parameter p = _parameters[i];
            int n = checked((int)p.Numel);
            var values = new float[n];
            for (int k = 0; k < n; k++) values[k] = buffer[at + k] * inv;
            Tensor mean = Tensor.FromArray(values, p.Shape, p.Device);
            DType want = p.Grad?.DType ?? DType.Float32;
            p.Grad = want == DType.Float32 ? mean : mean.To(want);
            at += n;
        }
    }
}
