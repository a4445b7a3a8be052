using System.Diagnostics;
using MaMA.Distributed.Communication;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// Averages the gradients of a parameter list over the ranks (DDP's convention: the result is the
/// mean of the ranks' gradients), in buckets of about <see cref="BucketBytes"/>: each bucket's
/// gradients are flattened into one fp32 host buffer, reduced with a non-blocking all-reduce, then
/// scaled by 1/R and written back as the parameters' Grad. Buckets are consecutive parameters in
/// list order, started last bucket first (the late layers' gradients are final first in backward).
/// <para>
/// Overlap with backward: <see cref="Overlap"/> around the last micro-batch's backward registers the
/// engine's gradient-final hook (<see cref="GradHooks"/>); a bucket is packed and its all-reduce
/// started as soon as all its parameters' gradients are final (buckets start in a fixed order on
/// every rank: a ready bucket waits for the ones before it). The plan used is the previous
/// reduction's, the only one every rank agrees on before backward; <see cref="AllReduceMean"/> then
/// starts what is left, checks with the "has a gradient" flags (one small all-reduce, as always)
/// that the plan still holds and that no packed gradient changed since, and only waits and unpacks.
/// If the plan changed (freezing, the late-loss step) every rank waits out its buckets, discards
/// them and reduces again without overlap. Either way each bucket holds the same values in the same
/// layout as without overlap, so the result is bit-identical.
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
    private readonly Dictionary<Parameter, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, float[][]> _buffers = new(StringComparer.Ordinal);
    private int[]? _lastPresent;
    private InFlight? _inFlight;

    public GradientBucketer(ICommunicator comm, IEnumerable<Parameter> parameters, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(parameters);
        if (bucketBytes < 4) throw new ArgumentOutOfRangeException(nameof(bucketBytes), "a bucket holds at least one fp32 value.");
        _comm = comm;
        _parameters = parameters.ToArray();
        for (int i = 0; i < _parameters.Length; i++) _index.TryAdd(_parameters[i], i);
        BucketBytes = bucketBytes;
    }

    public long BucketBytes { get; }

    /// <summary>Buckets of the last reduction.</summary>
    public int LastBucketCount { get; private set; }

    /// <summary>Gradient bytes this rank sent into the last reduction (fp32 elements x 4).</summary>
    public long LastBytes { get; private set; }

    /// <summary>Wall time of the last reduction (packing, collectives, unpacking; with overlap only what is left after backward).</summary>
    public TimeSpan LastElapsed { get; private set; }

    /// <summary>Buckets of the last reduction started during backward (0 without overlap or when the plan changed).</summary>
    public int LastOverlappedBuckets { get; private set; }

    /// <summary>Whether the last reduction used the buckets started during backward.</summary>
    public bool LastOverlapped { get; private set; }

    /// <summary>
    /// Wrap the backward of the step's last micro-batch in this scope (same thread): buckets start
    /// while backward runs. Call on every rank alike; <see cref="AllReduceMean"/> must follow. Returns
    /// null (nothing to do) before the first reduction, whose plan is not known yet.
    /// </summary>
    public IDisposable? Overlap()
    {
        if (_inFlight is not null) throw new InvalidOperationException("Overlap() twice without AllReduceMean() between.");
        if (_lastPresent is null) return null;
        List<List<int>> plan = Plan(_lastPresent);
        var flight = new InFlight(this, _lastPresent, plan, Buffers(_lastPresent, plan));
        _inFlight = flight;
        return GradHooks.OnLeafGradientFinal(flight.OnFinal);
    }

    /// <summary>Replaces every parameter's gradient by its mean over the ranks.</summary>
    public void AllReduceMean()
    {
        var clock = Stopwatch.StartNew();
        InFlight? flight = _inFlight;
        _inFlight = null;
        flight?.StartRemaining();
        // Which parameters have a gradient on any rank: one small reduction, so every rank builds the
        // same plan; the last entry counts ranks whose buckets started in backward went stale.
        var present = new int[_parameters.Length + 1];
        for (int i = 0; i < _parameters.Length; i++) present[i] = _parameters[i].Grad is null ? 0 : 1;
        if (flight is not null && flight.Stale()) present[^1] = 1;
        _comm.AllReduceSum<int>(present);
        bool stale = present[^1] != 0;
        Array.Resize(ref present, _parameters.Length);
        float inv = 1f / _comm.Size;
        if (flight is not null && !stale && Same(flight.Present, present))
        {
            Finish(flight.Plan, flight.Buffers, flight.Pending, inv);
            LastOverlappedBuckets = flight.StartedInBackward;
            LastOverlapped = true;
        }
        else
        {
            flight?.Discard();
            List<List<int>> plan = Plan(present);
            float[][] buffers = Buffers(present, plan);
            var pending = new IPendingReduction[plan.Count];
            for (int b = plan.Count - 1; b >= 0; b--)
            {
                Pack(plan[b], buffers[b], null);
                pending[b] = _comm.StartAllReduceSum(buffers[b]);
            }
            Finish(plan, buffers, pending, inv);
            LastOverlappedBuckets = 0;
            LastOverlapped = false;
        }
        _lastPresent = present;
        LastElapsed = clock.Elapsed;
    }

    private void Finish(List<List<int>> plan, float[][] buffers, IPendingReduction?[] pending, float inv)
    {
        long bytes = 0;
        for (int b = plan.Count - 1; b >= 0; b--)
        {
            pending[b]!.Wait();
            Unpack(plan[b], buffers[b], inv);
            bytes += buffers[b].Length * 4L;
        }
        LastBucketCount = plan.Count;
        LastBytes = bytes;
    }

    private static bool Same(int[] a, int[] b)
    {
        for (int i = 0; i < a.Length; i++)
            if ((a[i] == 0) != (b[i] == 0)) return false;
        return true;
    }

    /// <summary>The buckets of one overlapped backward: which parameters are final, which buckets started.</summary>
    private sealed class InFlight
    {
        private readonly GradientBucketer _owner;
        private readonly int[] _bucketOf;
        private readonly int[] _remaining;
        private readonly Tensor?[][] _packed;
        private int _next; // buckets start from the last one down: _next counts those started

        public InFlight(GradientBucketer owner, int[] present, List<List<int>> plan, float[][] buffers)
        {
            _owner = owner;
            Present = present;
            Plan = plan;
            Buffers = buffers;
            Pending = new IPendingReduction?[plan.Count];
            _bucketOf = new int[owner._parameters.Length];
            Array.Fill(_bucketOf, -1);
            _remaining = new int[plan.Count];
            _packed = new Tensor?[plan.Count][];
            for (int b = 0; b < plan.Count; b++)
            {
                foreach (int i in plan[b]) _bucketOf[i] = b;
                _remaining[b] = plan[b].Count;
            }
        }

        public int[] Present { get; }
        public List<List<int>> Plan { get; }
        public float[][] Buffers { get; }
        public IPendingReduction?[] Pending { get; }
        public int StartedInBackward { get; private set; }

        /// <summary>The engine's hook: <paramref name="p"/>'s gradient is final for this backward.</summary>
        public void OnFinal(Parameter p)
        {
            if (!_owner._index.TryGetValue(p, out int i) || _bucketOf[i] < 0) return;
            int b = _bucketOf[i];
            if (_remaining[b] > 0) _remaining[b]--;
            // Start every ready bucket in the fixed order (last bucket first), the same on every rank.
            while (_next < Plan.Count && _remaining[Plan.Count - 1 - _next] == 0)
            {
                Start(Plan.Count - 1 - _next);
                StartedInBackward++;
            }
        }

        private void Start(int b)
        {
            _packed[b] = new Tensor?[Plan[b].Count];
            _owner.Pack(Plan[b], Buffers[b], _packed[b]);
            Pending[b] = _owner._comm.StartAllReduceSum(Buffers[b]);
            _next++;
        }

        /// <summary>After backward: buckets whose parameters never reported (no gradient here) start now, in order.</summary>
        public void StartRemaining()
        {
            while (_next < Plan.Count) Start(Plan.Count - 1 - _next);
        }

        /// <summary>Whether a gradient changed after its bucket was packed (then the overlap is not used).</summary>
        public bool Stale()
        {
            for (int b = 0; b < Plan.Count; b++)
                for (int k = 0; k < Plan[b].Count; k++)
                    if (!ReferenceEquals(_packed[b]![k], _owner._parameters[Plan[b][k]].Grad)) return true;
            return false;
        }

        public void Discard()
        {
            for (int b = Plan.Count - 1; b >= 0; b--) Pending[b]?.Wait();
        }
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

    /// <summary>Flattens the bucket's gradients into <paramref name="buffer"/>; <paramref name="packed"/> (if given) records the Grad tensors read.</summary>
    private void Pack(List<int> bucket, float[] buffer, Tensor?[]? packed)
    {
        int at = 0;
        for (int k = 0; k < bucket.Count; k++)
        {
            Parameter p = _parameters[bucket[k]];
            int n = checked((int)p.Numel);
            if (packed is not null) packed[k] = p.Grad;
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
