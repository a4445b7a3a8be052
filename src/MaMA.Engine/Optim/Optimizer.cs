using System.Globalization;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Optim;

/// <summary>
/// Base of the optimizers: parameter groups, a step that updates each parameter with a
/// gradient in place (parameters whose Grad is null are skipped, state and all, as in
/// torch.optim), and per-parameter state (an update count and moment buffers on the parameter's
/// device) exposed as named tensors for checkpoints:
/// <c>state.{i}.step</c> (int64 scalar) and <c>state.{i}.{slot}</c> (parameter-shaped fp32),
/// where i indexes the parameters across groups in order, plus <c>step_count</c>.
/// </summary>
public abstract class Optimizer
{
    private readonly ParamGroup[] _groups;
    private readonly Parameter[] _parameters;
    private readonly ParamState?[] _state;

    protected Optimizer(IEnumerable<ParamGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        _groups = groups.ToArray();
        if (_groups.Length == 0) throw new ArgumentException("An optimizer needs at least one parameter group.", nameof(groups));
        _parameters = _groups.SelectMany(g => g.Parameters).ToArray();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (Parameter p in _parameters)
            if (!seen.Add(p))
                throw new ArgumentException($"Parameter '{p.Name ?? "?"}' appears in more than one parameter group (or twice in one).", nameof(groups));
        _state = new ParamState?[_parameters.Length];
    }

    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>Every parameter, in group order (the index used by the state names).</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>Number of <see cref="Step"/> calls.</summary>
    public long StepCount { get; private set; }

    /// <summary>Sets the learning rate of every group.</summary>
    public void SetLearningRate(double learningRate)
    {
        foreach (ParamGroup g in _groups) g.LearningRate = learningRate;
    }

    /// <summary>Names of the parameter-shaped state buffers ("exp_avg", "momentum_buffer", ...).</summary>
    protected abstract IReadOnlyList<string> Slots { get; }

    /// <summary>
    /// Updates <paramref name="p"/> in place from <paramref name="grad"/> (contiguous fp32, same shape and
    /// device). <paramref name="state"/>.Step was already incremented (it is 1 on the first update).
    /// </summary>
    protected abstract void Update(ParamGroup group, Parameter p, Tensor grad, ParamState state);

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using (GradMode.NoGrad())
        {
            int index = 0;
            foreach (ParamGroup group in _groups)
            {
                foreach (Parameter p in group.Parameters)
                {
                    int i = index++;
                    if (p.Grad is not { } g) continue;
                    Tensor grad = CheckedGrad(p, g, i);
                    ParamState state = _state[i] ??= NewState(p);
                    state.Step++;
                    Update(group, p, grad, state);
                }
            }
        }
        StepCount++;
    }

    /// <summary>Drops the gradient of every parameter (Grad = null).</summary>
    public void ZeroGrad()
    {
        foreach (Parameter p in _parameters) p.Grad = null;
    }

    /// <summary>The live state of parameter <paramref name="index"/> (null before its first update).</summary>
    public ParamState? StateOf(int index) => _state[index];

    /// <summary>
    /// The state by name: <c>step_count</c>, and for each parameter updated at least once
    /// <c>state.{i}.step</c> and <c>state.{i}.{slot}</c>. The buffers are the live tensors.
    /// </summary>
    public OrderedDictionary<string, Tensor> StateTensors()
    {
        var result = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["step_count"] = Tensor.FromArray(new[] { StepCount }, []),
        };
        for (int i = 0; i < _state.Length; i++)
        {
            if (_state[i] is not { } s) continue;
            result[Key(i, "step")] = Tensor.FromArray(new[] { s.Step }, []);
            foreach (string slot in Slots) result[Key(i, slot)] = s.Buffers[slot];
        }
        return result;
    }

    /// <summary>
    /// Replaces the whole state with <paramref name="tensors"/> (as written by <see cref="StateTensors"/>),
    /// copying onto each parameter's device. Parameters without entries start fresh. Unknown
    /// keys, incomplete per-parameter entries and a missing step_count fail when
    /// <paramref name="strict"/>; shape mismatches always fail. A failure names every offending
    /// key and changes nothing.
    /// </summary>
    public LoadResult LoadStateTensors(IReadOnlyDictionary<string, Tensor> tensors, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var unexpected = new List<string>();
        var missing = new List<string>();
        var mismatched = new List<string>();
        var present = new SortedDictionary<int, HashSet<string>>();
        string[] names = [.. Slots, "step"];
        foreach ((string key, Tensor t) in tensors)
        {
            if (key == "step_count")
            {
                if (t.Numel != 1) mismatched.Add($"{key}: checkpoint {Shape.Format(t.Shape)} vs a scalar");
                continue;
            }
            string[] parts = key.Split('.');
            if (parts.Length != 3 || parts[0] != "state" || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
                || i >= _parameters.Length || !names.Contains(parts[2]))
            {
                unexpected.Add(key);
                continue;
            }
            if (!present.TryGetValue(i, out HashSet<string>? slots)) present[i] = slots = [];
            slots.Add(parts[2]);
            if (parts[2] == "step")
            {
                if (t.Numel != 1) mismatched.Add($"{key}: checkpoint {Shape.Format(t.Shape)} vs a scalar");
            }
            else if (!Shape.SameShape(t.Shape, _parameters[i].Shape))
            {
                mismatched.Add($"{key}: checkpoint {Shape.Format(t.Shape)} vs parameter '{_parameters[i].Name ?? "?"}' {Shape.Format(_parameters[i].Shape)}");
            }
        }
        if (!tensors.ContainsKey("step_count")) missing.Add("step_count");
        var incomplete = new HashSet<int>();
        foreach ((int i, HashSet<string> slots) in present)
            foreach (string name in names)
                if (!slots.Contains(name))
                {
                    missing.Add(Key(i, name));
                    incomplete.Add(i);
                }
        unexpected.Sort(StringComparer.Ordinal);
        if (mismatched.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
            throw new StateDictException($"{GetType().Name} state", strict ? missing : [], strict ? unexpected : [], mismatched);

        Array.Fill(_state, null);
        foreach (int i in present.Keys)
        {
            if (incomplete.Contains(i)) continue;
            Parameter p = _parameters[i];
            var state = new ParamState(p, Slots) { Step = ReadInt(tensors[Key(i, "step")]) };
            foreach (string slot in Slots) TensorCopy.Into(state.Buffers[slot], tensors[Key(i, slot)], Key(i, slot));
            _state[i] = state;
        }
        StepCount = tensors.TryGetValue("step_count", out Tensor? sc) ? ReadInt(sc) : 0;
        return new LoadResult(missing, unexpected);
    }

    /// <summary>Fresh state for <paramref name="p"/>: zeroed buffers for every slot, Step 0.</summary>
    protected virtual ParamState NewState(Parameter p)
    {
        var state = new ParamState(p, Slots);
        foreach (Tensor b in state.Buffers.Values) b.ZeroBytes();
        return state;
    }

    private static string Key(int index, string slot) => $"state.{index.ToString(CultureInfo.InvariantCulture)}.{slot}";

    private static long ReadInt(Tensor t) => t.DType switch
    {
        DType.Int64 => t.ToArray<long>()[0],
        DType.Int32 => t.ToArray<int>()[0],
        _ => checked((long)Math.Round(t.Item())),
    };

    private static Tensor CheckedGrad(Parameter p, Tensor g, int index)
    {
        string name = p.Name ?? $"#{index}";
        if (p.DType != DType.Float32)
            throw new InvalidOperationException($"Parameter '{name}' is {p.DType}; optimizers update fp32 master parameters.");
        if (!p.IsContiguous)
            throw new InvalidOperationException($"Parameter '{name}' is not contiguous.");
        if (!Shape.SameShape(g.Shape, p.Shape))
            throw new InvalidOperationException($"Parameter '{name}' has shape {Shape.Format(p.Shape)} but its gradient has shape {Shape.Format(g.Shape)}.");
        if (!ReferenceEquals(g.Device, p.Device))
            throw new InvalidOperationException($"Parameter '{name}' is on {p.Device.Name} but its gradient is on {g.Device.Name}.");
        return Dispatch.F32(g);
    }

    /// <summary>One parameter's optimizer state.</summary>
    public sealed class ParamState
    {
        internal ParamState(Parameter p, IReadOnlyList<string> slots)
        {
            var buffers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (string slot in slots) buffers[slot] = Tensor.Empty(p.Shape, DType.Float32, p.Device);
            Buffers = buffers;
        }

        /// <summary>Updates applied to this parameter (torch's per-parameter "step").</summary>
        public long Step { get; internal set; }

        /// <summary>Parameter-shaped fp32 buffers by slot name, on the parameter's device.</summary>
        public IReadOnlyDictionary<string, Tensor> Buffers { get; }
    }
}
