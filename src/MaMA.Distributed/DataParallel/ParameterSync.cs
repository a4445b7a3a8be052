using MaMA.Distributed.Communication;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// Keeps the replicas identical: <see cref="BroadcastFromRoot(ICommunicator, Module, FrozenPart)"/> copies rank 0's
/// parameters and persistent buffers (BatchNorm statistics) to every rank at start or after a resume,
/// and <see cref="Verify(ICommunicator, Module, FrozenPart)"/> compares a 64-bit checksum of every
/// state-dict tensor across ranks and names the first tensor that differs. Given a <see cref="FrozenPart"/>
/// (the tensors every rank builds itself and that never change), both leave it out: it is not sent,
/// and only its digest, computed once per rank, is compared.
/// </summary>
public static class ParameterSync
{
    /// <summary>Bytes the last <see cref="BroadcastFromRoot(ICommunicator, Module, FrozenPart)"/> of this process sent (rank 0) or received (others); 0 on one process.</summary>
    public static long LastBroadcastBytes { get; private set; }

    /// <summary>Overwrites every rank's whole state dict with rank 0's (raw bytes, so bit-exact). Returns the bytes broadcast.</summary>
    public static long BroadcastFromRoot(ICommunicator comm, Module model) => BroadcastFromRoot(comm, model, FrozenPart.None);

    /// <summary>
    /// Overwrites every rank's state dict, except the tensors of <paramref name="frozen"/>, with rank
    /// 0's (raw bytes, so bit-exact). Returns the bytes broadcast (also <see cref="LastBroadcastBytes"/>).
    /// The frozen tensors are checked, not sent, by <see cref="Verify(ICommunicator, Module, FrozenPart)"/>.
    /// </summary>
    public static long BroadcastFromRoot(ICommunicator comm, Module model, FrozenPart frozen)
    {
        ArgumentNullException.ThrowIfNull(frozen);
        long bytes = Broadcast(comm, model, skip: (name, _) => frozen.Names.Contains(name), strict: frozen.Names.Count == 0);
        LastBroadcastBytes = bytes;
        return bytes;
    }

    /// <summary>
    /// Overwrites every rank's persistent buffers with rank 0's, as DDP's broadcast_buffers: the
    /// BatchNorm running statistics are updated from each rank's local batch and would otherwise
    /// drift apart. Call once per optimizer step (a few KB for MaMA's heads).
    /// </summary>
    public static void BroadcastBuffersFromRoot(ICommunicator comm, Module model) => Broadcast(comm, model, skip: (_, t) => t is Parameter, strict: false);

    private static long Broadcast(ICommunicator comm, Module model, Func<string, Tensor, bool> skip, bool strict)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(model);
        if (comm.Size == 1) return 0;
        var received = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        long sent = 0;
        foreach ((string name, Tensor t) in model.StateDict())
        {
            if (skip(name, t)) continue;
            byte[] bytes = t.ToBytes();
            comm.Broadcast<byte>(bytes);
            sent += bytes.Length;
            if (comm.Rank != 0) received[name] = Tensor.FromBytes(bytes, t.Shape, t.DType, t.Device);
        }
        if (comm.Rank != 0) model.LoadStateDict(received, strict: strict);
        return sent;
    }

    /// <summary>Checksum of each state-dict tensor (name, dtype, shape and bytes), in state-dict order.</summary>
    public static long[] Checksums(Module model) => model.StateDict().Select(kv => Hash(kv.Key, kv.Value)).ToArray();

    /// <summary>
    /// Throws when any rank's state dict differs from rank 0's, naming the tensor and the ranks.
    /// Returns the checksum of the whole state (the same on every rank). Hashes every tensor.
    /// </summary>
    public static long Verify(ICommunicator comm, Module model) => Verify(comm, model, FrozenPart.None);

    /// <summary>
    /// Throws when any rank's state dict differs from rank 0's, naming the tensor and the ranks.
    /// Hashes only the tensors outside <paramref name="frozen"/>; for the frozen ones the ranks
    /// compare <see cref="FrozenPart.Digest"/>, and only when a digest differs are the frozen tensors
    /// hashed one by one to name the one that differs. Returns a checksum of the whole state (the
    /// same on every rank). Collective: every rank must call it.
    /// </summary>
    public static long Verify(ICommunicator comm, Module model, FrozenPart frozen)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(frozen);
        var state = model.StateDict();
        var trained = state.Where(kv => !frozen.Names.Contains(kv.Key)).ToList();
        var mine = trained.Select(kv => Hash(kv.Key, kv.Value)).Append(frozen.Digest).ToArray();
        var names = trained.Select(kv => kv.Key).ToArray();
        long[] all = Gather(comm, mine);
        for (int i = 0; i < names.Length; i++)
            if (Differing(comm, all, mine.Length, i) is { Count: > 0 } differing) throw Diverged(names[i], differing, "; the replicas have diverged (non-deterministic kernels, a rank that skipped a step, or a different model/checkpoint).");

        if (Differing(comm, all, mine.Length, names.Length) is { Count: > 0 } frozenDiffering)
        {
            // Rare path: the frozen base differs somewhere; hash it tensor by tensor to say where.
            var frozenTensors = state.Where(kv => frozen.Names.Contains(kv.Key)).ToList();
            long[] each = frozenTensors.Select(kv => Hash(kv.Key, kv.Value)).ToArray();
            long[] allEach = Gather(comm, each);
            const string why = "; it is a frozen tensor, which every rank builds itself and nobody sends: the ranks loaded different model files or seeds.";
            for (int i = 0; i < each.Length; i++)
                if (Differing(comm, allEach, each.Length, i) is { Count: > 0 } differing) throw Diverged(frozenTensors[i].Key, differing, why);
            throw new InvalidOperationException(
                $"parameter check: the frozen-base digest differs between rank 0 and rank(s) {string.Join(", ", frozenDiffering)} although its {each.Length} tensors are equal now: the ranks computed their digests from different model files or before a change.");
        }
        return FrozenPart.Combine(mine);
    }

    private static long[] Gather(ICommunicator comm, long[] mine)
    {
        var all = new long[mine.Length * comm.Size];
        comm.AllGather<long>(mine, all);
        return all;
    }

    private static List<int> Differing(ICommunicator comm, long[] all, int count, int i) =>
        Enumerable.Range(1, comm.Size - 1).Where(r => all[r * count + i] != all[i]).ToList();

    private static InvalidOperationException Diverged(string name, List<int> ranks, string why) =>
        new($"parameter check: '{name}' differs between rank 0 and rank(s) {string.Join(", ", ranks)}{why}");

    internal static long Hash(string name, Tensor t)
    {
        // SHA-256 (hardware accelerated) of name, dtype, shape and bytes, cut to 64 bits.
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}|{t.DType}|{Shape.Format(t.Shape)}|"));
        sha.AppendData(t.ToBytes());
        return BitConverter.ToInt64(sha.GetHashAndReset(), 0);
    }
}
