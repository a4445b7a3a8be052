using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;

namespace MaMA.Engine.Nn;

/// <summary>
/// A node of a model tree, as torch.nn.Module: it owns named parameters, buffers (running
/// statistics and other non-trained state) and child modules. Enumeration is in registration
/// order and names are dotted paths identical to PyTorch state-dict keys
/// ("blocks.0.attn.qkv.weight"), so checkpoints map one to one.
/// </summary>
public abstract class Module
{
    private readonly List<string> _order = [];
    private readonly Dictionary<string, Parameter> _parameters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Tensor Value, bool Persistent)> _buffers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Module> _modules = new(StringComparer.Ordinal);

    /// <summary>Training mode (dropout active, norms update running stats); see <see cref="Train"/>.</summary>
    public bool IsTraining { get; private set; } = true;

    // ---- registration ----

    /// <summary>Adds a parameter named <paramref name="name"/> sharing <paramref name="init"/>'s storage.</summary>
    public Parameter RegisterParameter(string name, Tensor init, bool noWeightDecay = false)
    {
        CheckNewName(name);
        var p = init as Parameter ?? new Parameter(init, name, noWeightDecay);
        if (ReferenceEquals(p, init) && noWeightDecay) p.NoWeightDecay = true;
        p.Name ??= name;
        _parameters[name] = p;
        _order.Add(name);
        return p;
    }

    /// <summary>
    /// Swaps the parameter registered under <paramref name="name"/> for <paramref name="value"/>,
    /// whose shape may differ (resize_token_embeddings); the registration order is kept. Optimizers
    /// built before the swap still hold the old parameter.
    /// </summary>
    public Parameter ReplaceParameter(string name, Tensor value, bool noWeightDecay = false)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!_parameters.TryGetValue(name, out Parameter? old))
            throw new KeyNotFoundException($"{GetType().Name} has no parameter '{name}' to replace.");
        var p = value as Parameter ?? new Parameter(value, name, noWeightDecay || old.NoWeightDecay);
        p.Name ??= old.Name ?? name;
        _parameters[name] = p;
        return p;
    }

    /// <summary>Adds a child module; its entries appear under "<paramref name="name"/>.".</summary>
    public T RegisterModule<T>(string name, T module) where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        CheckNewName(name);
        if (ReferenceEquals(module, this) || module.NamedModules().Any(m => ReferenceEquals(m.Module, this)))
            throw new ArgumentException($"Registering '{name}' would make the module tree cyclic.", nameof(module));
        _modules[name] = module;
        _order.Add(name);
        return module;
    }

    /// <summary>
    /// Adds non-trained state (running statistics, fixed tables). Persistent buffers are part of
    /// the state dict and checkpoints; the tensor is made contiguous and detached.
    /// </summary>
    public Tensor RegisterBuffer(string name, Tensor value, bool persistent = true)
    {
        ArgumentNullException.ThrowIfNull(value);
        CheckNewName(name);
        Tensor t;
        using (Autograd.GradMode.NoGrad()) t = value.Contiguous().Detach();
        t.Name = name;
        _buffers[name] = (t, persistent);
        _order.Add(name);
        return t;
    }

    /// <summary>Overwrites a registered buffer's values in place (same shape).</summary>
    public void SetBuffer(string name, Tensor value)
    {
        if (!_buffers.TryGetValue(name, out var b)) throw new KeyNotFoundException($"{GetType().Name} has no buffer '{name}'.");
        TensorCopy.Into(b.Value, value, name);
    }

    /// <summary>The buffer registered under <paramref name="name"/> on this module.</summary>
    public Tensor GetBuffer(string name) =>
        _buffers.TryGetValue(name, out var b) ? b.Value : throw new KeyNotFoundException($"{GetType().Name} has no buffer '{name}'.");

    private void CheckNewName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('.')) throw new ArgumentException($"Name '{name}' must not contain '.'.", nameof(name));
        if (_parameters.ContainsKey(name) || _buffers.ContainsKey(name) || _modules.ContainsKey(name))
            throw new ArgumentException($"{GetType().Name} already has a parameter, buffer or module named '{name}'.", nameof(name));
    }

    // ---- enumeration ----

    /// <summary>
    /// Every parameter with its dotted name, this module's first, then each child's (pre-order).
    /// A parameter shared by several modules is listed once, under its first name (as PyTorch).
    /// Sets each parameter's <see cref="Tensor.Name"/> to that name.
    /// </summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach ((string prefix, Module m) in NamedModules())
            foreach (string local in m._order)
                if (m._parameters.TryGetValue(local, out Parameter? p) && seen.Add(p))
                {
                    string name = prefix + local;
                    p.Name = name;
                    yield return (name, p);
                }
    }

    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(np => np.Parameter);

    /// <summary>
    /// True when any parameter of this module or a descendant requires grad. Unlike
    /// <see cref="NamedParameters"/> it leaves parameter names alone, so a sub-module can ask
    /// (activation recomputation does, per block) without renaming the parameters relative to it.
    /// </summary>
    public bool AnyParameterRequiresGrad() =>
        NamedModules().Any(m => m.Module._parameters.Values.Any(p => p.RequiresGrad));

    /// <summary>Buffers with dotted names (persistent and not).</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers()
    {
        foreach ((string prefix, Module m) in NamedModules())
            foreach (string local in m._order)
                if (m._buffers.TryGetValue(local, out var b)) yield return (prefix + local, b.Value);
    }

    /// <summary>Direct children in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren()
    {
        foreach (string local in _order)
            if (_modules.TryGetValue(local, out Module? m)) yield return (local, m);
    }

    /// <summary>This module (prefix "") and all descendants, pre-order, each with its prefix ending in '.'.</summary>
    public IEnumerable<(string Prefix, Module Module)> NamedModules() => Walk("", new HashSet<Module>(ReferenceEqualityComparer.Instance));

    private IEnumerable<(string Prefix, Module Module)> Walk(string prefix, HashSet<Module> seen)
    {
        if (!seen.Add(this)) yield break;
        yield return (prefix, this);
        foreach ((string name, Module child) in NamedChildren())
            foreach (var entry in child.Walk(prefix + name + ".", seen))
                yield return entry;
    }

    /// <summary>Total number of parameter elements.</summary>
    public long ParameterCount => Parameters().Sum(p => p.Numel);

    // ---- modes and gradients ----

    /// <summary>Sets training mode on this module and every descendant.</summary>
    public Module Train(bool training = true)
    {
        IsTraining = training;
        foreach ((_, Module child) in NamedChildren()) child.Train(training);
        return this;
    }

    /// <summary>Evaluation mode on this module and every descendant (Train(false)).</summary>
    public Module Eval() => Train(false);

    /// <summary>Drops every parameter's gradient (Grad = null).</summary>
    public void ZeroGrad()
    {
        foreach (Parameter p in Parameters()) p.Grad = null;
    }

    // ---- state dicts ----

    /// <summary>
    /// Parameters and persistent buffers by dotted name, in PyTorch order (per module: its own
    /// parameters and buffers in registration order, then its children). The tensors are the
    /// live ones, not copies. A parameter shared under two names appears under both.
    /// </summary>
    public OrderedDictionary<string, Tensor> StateDict()
    {
        var result = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        Collect(this, "", result, new HashSet<Module>(ReferenceEqualityComparer.Instance));
        return result;

        static void Collect(Module m, string prefix, OrderedDictionary<string, Tensor> into, HashSet<Module> seen)
        {
            if (!seen.Add(m)) return;
            foreach (string local in m._order)
            {
                if (m._parameters.TryGetValue(local, out Parameter? p)) into[prefix + local] = p;
                else if (m._buffers.TryGetValue(local, out var b) && b.Persistent) into[prefix + local] = b.Value;
            }
            foreach ((string name, Module child) in m.NamedChildren()) Collect(child, prefix + name + ".", into, seen);
        }
    }

    /// <summary>
    /// Copies values into the parameters and buffers in place (converting dtype and device).
    /// Shape mismatches always fail; with <paramref name="strict"/> missing and unexpected keys
    /// fail too. A failure names every offending key and loads nothing.
    /// </summary>
    public LoadResult LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        OrderedDictionary<string, Tensor> own = StateDict();
        LoadResult result = Check(own, stateDict.ToDictionary(kv => kv.Key, kv => kv.Value.ShapeArray), strict, "state dict for " + GetType().Name);
        foreach ((string key, Tensor target) in own)
            if (stateDict.TryGetValue(key, out Tensor? source)) TensorCopy.Into(target, source, key);
        return result;
    }

    /// <summary>Writes the state dict to a safetensors file (keys as in <see cref="StateDict"/>).</summary>
    public void SaveSafetensors(string path, IReadOnlyDictionary<string, string>? metadata = null) =>
        Safetensors.Write(path, StateDict(), metadata);

    /// <summary>Loads a safetensors checkpoint with the checks of <see cref="LoadStateDict"/>.</summary>
    public LoadResult LoadSafetensors(string path, bool strict = true)
    {
        using SafetensorsFile file = Safetensors.Open(path);
        OrderedDictionary<string, Tensor> own = StateDict();
        LoadResult result = Check(own, file.Entries.ToDictionary(e => e.Key, e => e.Value.Shape), strict, $"checkpoint {path} into {GetType().Name}");
        foreach ((string key, Tensor target) in own)
        {
            if (!file.Contains(key)) continue;
            Tensor source = file.Load(key);
            TensorCopy.Into(target, source, key);
            source.Dispose();
        }
        return result;
    }

    private static LoadResult Check(OrderedDictionary<string, Tensor> own, Dictionary<string, int[]> incoming, bool strict, string context)
    {
        var missing = own.Keys.Where(k => !incoming.ContainsKey(k)).ToList();
        var unexpected = incoming.Keys.Where(k => !own.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var mismatched = new List<string>();
        foreach ((string key, Tensor target) in own)
            if (incoming.TryGetValue(key, out int[]? shape) && !Shape.SameShape(shape, target.Shape))
                mismatched.Add($"{key}: checkpoint {Shape.Format(shape)} vs model {Shape.Format(target.Shape)}");
        if (mismatched.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
            throw new StateDictException(context, strict ? missing : [], strict ? unexpected : [], mismatched);
        return new LoadResult(missing, unexpected);
    }
}
