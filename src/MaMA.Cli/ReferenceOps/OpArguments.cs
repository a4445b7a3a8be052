using MaMA.Engine.Tensors;

namespace MaMA.Cli.ReferenceOps;

/// <summary>
/// The named input tensors of a <c>mama op</c> call, with checks whose errors name the tensor
/// (a <see cref="UsageException"/>: exit code 2).
/// </summary>
internal sealed class OpArguments(string op, IReadOnlyDictionary<string, Tensor> tensors)
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    /// <summary>A required floating tensor of the given rank (any rank when null).</summary>
    public Tensor Tensor(string name, int? rank = null)
    {
        _used.Add(name);
        if (!tensors.TryGetValue(name, out Tensor? t))
            throw new UsageException($"{op}: input tensor '{name}' is missing (inputs present: {string.Join(", ", tensors.Keys.Order())}).");
        Check(name, t, rank, floating: true);
        return t;
    }

    /// <summary>An optional floating tensor.</summary>
    public Tensor? Optional(string name, int? rank = null) => tensors.ContainsKey(name) ? Tensor(name, rank) : null;

    /// <summary>A required integer tensor (int32 or int64) of the given rank.</summary>
    public Tensor Integers(string name, int? rank = null)
    {
        _used.Add(name);
        if (!tensors.TryGetValue(name, out Tensor? t))
            throw new UsageException($"{op}: input tensor '{name}' is missing (inputs present: {string.Join(", ", tensors.Keys.Order())}).");
        Check(name, t, rank, floating: false);
        return t;
    }

    /// <summary>A 0-d (or one-element) scalar tensor's value.</summary>
    public float Scalar(string name)
    {
        _used.Add(name);
        if (!tensors.TryGetValue(name, out Tensor? t))
            throw new UsageException($"{op}: scalar '{name}' is missing (a 0-d tensor).");
        if (t.Numel != 1) throw new UsageException($"{op}: scalar '{name}' must be a 0-d tensor, got shape {Shape.Format(t.Shape)}.");
        return t.DType.IsFloating() ? t.Item() : t.DType == DType.Int64 ? t.ToArray<long>()[0] : t.DType == DType.Int32 ? t.ToArray<int>()[0] : t.ToArray<bool>()[0] ? 1f : 0f;
    }

    public float Scalar(string name, float fallback) => tensors.ContainsKey(name) ? Scalar(name) : fallback;

    /// <summary>Requires two named tensors to have equal sizes on the given axes.</summary>
    public void SameSize(string a, int axisA, string b, int axisB)
    {
        Tensor ta = tensors[a], tb = tensors[b];
        if (ta.Size(axisA) != tb.Size(axisB))
            throw new UsageException($"{op}: '{a}' axis {axisA} has size {ta.Size(axisA)} but '{b}' axis {axisB} has size {tb.Size(axisB)}.");
    }

    /// <summary>Names of tensors the op did not read (other than gradients), reported as a likely mistake.</summary>
    public IEnumerable<string> Unused() => tensors.Keys.Where(k => !_used.Contains(k) && !k.StartsWith("grad_", StringComparison.Ordinal));

    private void Check(string name, Tensor t, int? rank, bool floating)
    {
        if (rank is int r && t.Rank != r)
            throw new UsageException($"{op}: '{name}' must have rank {r}, got shape {Shape.Format(t.Shape)}.");
        if (floating && !t.DType.IsFloating())
            throw new UsageException($"{op}: '{name}' must be a floating tensor (F32, BF16, F16), got {t.DType.SafetensorsName()}.");
        if (!floating && t.DType is not (DType.Int64 or DType.Int32))
            throw new UsageException($"{op}: '{name}' must be an integer tensor (I64 or I32), got {t.DType.SafetensorsName()}.");
    }
}
