using MaMA.Distributed.Communication;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// Keeps the replicas identical: <see cref="BroadcastFromRoot"/> copies rank 0's parameters and
/// persistent buffers (BatchNorm statistics) to every rank at start or after a resume, and
/// <see cref="Verify"/> compares a 64-bit FNV-1a checksum of every state-dict tensor across ranks
/// and names the first tensor that differs.
/// </summary>
public static class ParameterSync
{
    /// <summary>Overwrites every rank's state dict with rank 0's (raw bytes, so bit-exact).</summary>
    public static void BroadcastFromRoot(ICommunicator comm, Module model) => Broadcast(comm, model, buffersOnly: false);

    /// <summary>
    /// Overwrites every rank's persistent buffers with rank 0's, as DDP's broadcast_buffers: the
    /// BatchNorm running statistics are updated from each rank's local batch and would otherwise
    /// drift apart. Call once per optimizer step (a few KB for MaMA's heads).
    /// </summary>
    public static void BroadcastBuffersFromRoot(ICommunicator comm, Module model) => Broadcast(comm, model, buffersOnly: true);

    private static void Broadcast(ICommunicator comm, Module model, bool buffersOnly)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(model);
        if (comm.Size == 1) return;
        var received = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string name, Tensor t) in model.StateDict())
        {
            if (buffersOnly && t is Parameter) continue;
            byte[] bytes = t.ToBytes();
            comm.Broadcast<byte>(bytes);
            if (comm.Rank != 0) received[name] = Tensor.FromBytes(bytes, t.Shape, t.DType, t.Device);
        }
        if (comm.Rank != 0) model.LoadStateDict(received, strict: !buffersOnly);
    }

    /// <summary>Checksum of each state-dict tensor (name, dtype, shape and bytes), in state-dict order.</summary>
    public static long[] Checksums(Module model) => model.StateDict().Select(kv => Hash(kv.Key, kv.Value)).ToArray();

    /// <summary>
    /// Throws when any rank's state dict differs from rank 0's, naming the tensor and the ranks.
    /// Returns the checksum of the whole state (the same on every rank).
    /// </summary>
    public static long Verify(ICommunicator comm, Module model)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(model);
        var names = model.StateDict().Keys.ToArray();
        long[] mine = Checksums(model);
        var all = new long[mine.Length * comm.Size];
        comm.AllGather<long>(mine, all);
        for (int i = 0; i < mine.Length; i++)
        {
            var differing = Enumerable.Range(1, comm.Size - 1).Where(r => all[r * mine.Length + i] != all[i]).ToList();
            if (differing.Count > 0)
                throw new InvalidOperationException($"parameter check: '{names[i]}' differs between rank 0 and rank(s) {string.Join(", ", differing)}; the replicas have diverged (non-deterministic kernels, a rank that skipped a step, or a different model/checkpoint).");
        }
        ulong h = 14695981039346656037UL;
        foreach (long c in mine) h = (h ^ (ulong)c) * 1099511628211UL;
        return (long)h;
    }

    private static long Hash(string name, Tensor t)
    {
        // SHA-256 (hardware accelerated) of name, dtype, shape and bytes, cut to 64 bits.
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}|{t.DType}|{Shape.Format(t.Shape)}|"));
        sha.AppendData(t.ToBytes());
        return BitConverter.ToInt64(sha.GetHashAndReset(), 0);
    }
}
