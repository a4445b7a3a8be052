using MaMA.Distributed.Communication;
using MaMA.Distributed.DataParallel;
using MaMA.Engine.Tensors;
using MaMA.Model.MaMA;

namespace MaMA.MpiCheck;

/// <summary>
/// Start-up synchronisation with a frozen base (MaMAConfig.Tiny): every rank builds the frozen base
/// from the same seed and the trained part from its own seed; <see cref="ParameterSync.BroadcastFromRoot(ICommunicator, MaMA.Engine.Nn.Module, FrozenPart)"/>
/// must send only the trained part and buffers, after which <see cref="ParameterSync.Verify(ICommunicator, MaMA.Engine.Nn.Module, FrozenPart)"/>
/// passes (and so does the full per-tensor check). Then the last rank builds a different frozen
/// tensor (as a rank that loaded other model files): not sent, so the check must fail on every
/// rank naming that tensor and the rank.
/// </summary>
internal static class CheckSync
{
    private const int Seed = 100;

    public static Dictionary<string, object?> Run(ICommunicator comm)
    {
        MaMAConfig config = MaMAConfig.Tiny;
        var model = new MaMAModel(config, new Random(Seed + comm.Rank));
        model.Train();
        // The frozen base as the trainer sees it: frozen both before and from the late-loss step.
        model.ApplyFreezing(config.LateLossStep);
        var frozenLate = model.NamedParameters().Where(np => np.Parameter.IsFrozen).Select(np => np.Name).ToHashSet(StringComparer.Ordinal);
        model.ApplyFreezing(0);
        var frozenNames = model.NamedParameters().Where(np => np.Parameter.IsFrozen && frozenLate.Contains(np.Name)).Select(np => np.Name).ToList();
        var common = new MaMAModel(config, new Random(Seed)).StateDict();
        model.LoadStateDict(frozenNames.ToDictionary(n => n, n => common[n], StringComparer.Ordinal), strict: false);

        var state = model.StateDict();
        long totalBytes = state.Sum(kv => (long)kv.Value.ToBytes().Length);
        long frozenBytes = state.Where(kv => frozenNames.Contains(kv.Key)).Sum(kv => (long)kv.Value.ToBytes().Length);
        FrozenPart frozen = FrozenPart.Of(model, frozenNames);

        string? before = Failure(() => ParameterSync.Verify(comm, model, frozen));
        long sent = ParameterSync.BroadcastFromRoot(comm, model, frozen);
        long checksum = ParameterSync.Verify(comm, model, frozen);
        ParameterSync.Verify(comm, model); // the full per-tensor check agrees: the frozen base really is equal

        // The last rank builds one frozen tensor differently (other files); its digest at start differs.
        string changed = frozenNames[frozenNames.Count / 2];
        if (comm.Rank == comm.Size - 1)
        {
            Tensor t = model.StateDict()[changed];
            float[] values = t.ToFloatArray();
            values[0] += 1f;
            model.LoadStateDict(new Dictionary<string, Tensor> { [changed] = Tensor.FromArray(values, t.Shape) }, strict: false);
        }
        FrozenPart frozenAfter = FrozenPart.Of(model, frozenNames);
        long sentAgain = ParameterSync.BroadcastFromRoot(comm, model, frozenAfter);
        string? after = Failure(() => ParameterSync.Verify(comm, model, frozenAfter));

        return new Dictionary<string, object?>
        {
            ["total_bytes"] = totalBytes, ["frozen_bytes"] = frozenBytes, ["frozen_tensors"] = frozenNames.Count,
            ["broadcast_bytes"] = sent, ["last_broadcast_bytes"] = ParameterSync.LastBroadcastBytes, ["broadcast_bytes_again"] = sentAgain,
            ["failure_before_broadcast"] = before, ["checksum"] = checksum,
            ["changed_frozen_tensor"] = changed, ["failure_after_change"] = after,
        };
    }

    private static string? Failure(Func<long> check)
    {
        try
        {
            check();
            return null;
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }
}
