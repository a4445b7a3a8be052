using MaMA.Engine.Nn;

namespace MaMA.Engine.Optim;

/// <summary>
/// Parameters sharing a learning rate and a weight decay (a torch.optim param group). Schedulers
/// change <see cref="LearningRate"/> between steps.
/// </summary>
public sealed class ParamGroup
{
    public ParamGroup(IEnumerable<Parameter> parameters, double learningRate, double weightDecay = 0.0, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters.ToArray();
        if (Parameters.Any(p => p is null)) throw new ArgumentException("A parameter group contains null.", nameof(parameters));
        LearningRate = learningRate;
        WeightDecay = weightDecay;
        Name = name ?? "group";
    }

    public string Name { get; }

    public IReadOnlyList<Parameter> Parameters { get; }

    public double LearningRate
    {
        get;
        set
        {
            if (!(value >= 0.0)) throw new ArgumentOutOfRangeException(nameof(value), $"Invalid learning rate {value} for group '{Name}'.");
            field = value;
        }
    }

    public double WeightDecay
    {
        get;
        set
        {
            if (!(value >= 0.0)) throw new ArgumentOutOfRangeException(nameof(value), $"Invalid weight decay {value} for group '{Name}'.");
            field = value;
        }
    }

    /// <summary>
    /// The two standard groups: "decay" (every parameter without <see cref="Parameter.NoWeightDecay"/>,
    /// with <paramref name="weightDecay"/>) and "no_decay" (the rest, weight decay 0), in that
    /// order and both present even when empty, so group indices are stable across runs.
    /// </summary>
    public static ParamGroup[] DecayAndNoDecay(IEnumerable<Parameter> parameters, double learningRate, double weightDecay)
    {
        Parameter[] all = parameters.ToArray();
        return
        [
            new ParamGroup(all.Where(p => !p.NoWeightDecay), learningRate, weightDecay, "decay"),
            new ParamGroup(all.Where(p => p.NoWeightDecay), learningRate, 0.0, "no_decay"),
        ];
    }

    public override string ToString() => $"{Name}: {Parameters.Count} parameters, lr {LearningRate}, weight decay {WeightDecay}";
}
