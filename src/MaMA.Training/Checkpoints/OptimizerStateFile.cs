using System.Globalization;
using MaMA.Engine.Nn;
using MaMA.Engine.Optim;
using MaMA.Engine.Serialization;
using MaMA.Engine.Tensors;

namespace MaMA.Training.Checkpoints;

/// <summary>
/// Optimizer state keyed by parameter name instead of position, so a checkpoint survives a change
/// in the order parameters are enumerated and says which moments belong to which weight:
/// <c>{parameter name}.{slot}</c> (slot "exp_avg", "exp_avg_sq", "momentum_buffer": parameter-shaped
/// fp32; "step": int64 scalar) plus <c>step_count</c>. Translates to and from
/// <see cref="Optimizer.StateTensors"/>' <c>state.{i}.{slot}</c>. Names come from the model's
/// <see cref="Module.NamedParameters"/> (a parameter's own Name may hold a shorter path when a
/// sub-module was enumerated on its own).
/// </summary>
public static class OptimizerStateFile
{
    private const string StepCount = "step_count";

    /// <summary>The live state tensors under name keys (no copies).</summary>
    public static Dictionary<string, Tensor> ToNamed(Optimizer optimizer, Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return ToNamed(optimizer, model.NamedParameters(), model.GetType().Name);
    }

    /// <summary>As <see cref="ToNamed(Optimizer, Module)"/> with the names given (parameters of several modules, e.g. a head and an encoder).</summary>
    public static Dictionary<string, Tensor> ToNamed(Optimizer optimizer, IEnumerable<(string Name, Parameter Parameter)> named, string owner = "model")
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        string[] names = ParameterNames(optimizer, named, owner);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string key, Tensor t) in optimizer.StateTensors())
        {
            if (key == StepCount)
            {
                result[key] = t;
                continue;
            }
            // "state.{i}.{slot}"
            string[] parts = key.Split('.', 3);
            int i = int.Parse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture);
            result[names[i] + "." + parts[2]] = t;
        }
        return result;
    }

    /// <summary>
    /// Loads name-keyed state from <paramref name="path"/> into <paramref name="optimizer"/>. Every
    /// trained parameter must be covered and every entry must name a parameter of this optimizer:
    /// an <see cref="InvalidDataException"/> lists the first differences otherwise.
    /// </summary>
    public static void Load(Optimizer optimizer, Module model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        Load(optimizer, model.NamedParameters(), path, model.GetType().Name);
    }

    /// <summary>As <see cref="Load(Optimizer, Module, string)"/> with the names given.</summary>
    public static void Load(Optimizer optimizer, IEnumerable<(string Name, Parameter Parameter)> named, string path, string owner = "model")
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        string[] names = ParameterNames(optimizer, named, owner);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++) index[names[i]] = i;
        var byIndex = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var unknown = new List<string>();
        using SafetensorsFile file = Safetensors.Open(path);
        try
        {
            foreach (string key in file.Names)
            {
                if (key == StepCount)
                {
                    byIndex[key] = file.Load(key);
                    continue;
                }
                int dot = key.LastIndexOf('.');
                if (dot <= 0 || !index.TryGetValue(key[..dot], out int i))
                {
                    unknown.Add(key);
                    continue;
                }
                byIndex[$"state.{i.ToString(CultureInfo.InvariantCulture)}.{key[(dot + 1)..]}"] = file.Load(key, optimizer.Parameters[i].Device);
            }
            if (unknown.Count > 0)
                throw new InvalidDataException($"{path}: optimizer state for parameters this model does not train: {string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? $" (+{unknown.Count - 5} more)" : "")}.");
            try
            {
                optimizer.LoadStateTensors(byIndex, strict: true);
            }
            catch (StateDictException e)
            {
                throw new InvalidDataException($"{path}: {e.Message}", e);
            }
        }
        finally
        {
            foreach (Tensor t in byIndex.Values) t.Dispose();
        }
    }

    private static string[] ParameterNames(Optimizer optimizer, IEnumerable<(string Name, Parameter Parameter)> named, string owner)
    {
        ArgumentNullException.ThrowIfNull(named);
        var byParameter = new Dictionary<Parameter, string>(ReferenceEqualityComparer.Instance);
        foreach ((string name, Parameter p) in named) byParameter[p] = name;
        var names = new string[optimizer.Parameters.Count];
        for (int i = 0; i < names.Length; i++)
            names[i] = byParameter.TryGetValue(optimizer.Parameters[i], out string? name)
                ? name
                : throw new InvalidOperationException($"Optimizer parameter #{i} ('{optimizer.Parameters[i].Name ?? "?"}') is not a parameter of the {owner}.");
        return names;
    }
}
