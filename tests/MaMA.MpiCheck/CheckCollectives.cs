using MaMA.Distributed.Communication;

namespace MaMA.MpiCheck;

/// <summary>Each collective against its closed form: sums of rank-dependent values, variable gathers, broadcast, local ranks.</summary>
internal static class CheckCollectives
{
    public static Dictionary<string, object?> Run(ICommunicator comm)
    {
        int r = comm.Rank, size = comm.Size;
        var failures = new List<string>();
        void Expect(bool ok, string what) { if (!ok) failures.Add($"rank {r}: {what}"); }

        float[] sum = [r + 1, 10f * r, 0.5f];
        comm.AllReduceSum<float>(sum);
        Expect(sum[0] == size * (size + 1) / 2f && sum[1] == 10f * size * (size - 1) / 2f && sum[2] == 0.5f * size, "all-reduce float");

        long[] longs = [1L << 40, r];
        comm.AllReduceSum<long>(longs);
        Expect(longs[0] == (1L << 40) * size && longs[1] == (long)size * (size - 1) / 2, "all-reduce long");

        var big = new float[3_000_001];
        Array.Fill(big, 1f);
        IPendingReduction pending = comm.StartAllReduceSum(big);
        pending.Wait();
        Expect(big.All(v => v == size), "non-blocking all-reduce");

        var gathered = new int[2 * size];
        comm.AllGather<int>([r, -r], gathered);
        Expect(Enumerable.Range(0, size).All(k => gathered[2 * k] == k && gathered[2 * k + 1] == -k), "all-gather");

        (double[] all, int[] counts) = comm.AllGatherVariable<double>(Enumerable.Repeat((double)r, r + 1).ToArray());
        Expect(counts.SequenceEqual(Enumerable.Range(1, size)) && all.SequenceEqual(Enumerable.Range(0, size).SelectMany(k => Enumerable.Repeat((double)k, k + 1))), "all-gather variable");

        byte[] bytes = r == 0 ? [7, 8, 9] : new byte[3];
        comm.Broadcast<byte>(bytes);
        Expect(bytes.SequenceEqual(new byte[] { 7, 8, 9 }), "broadcast");
        comm.Barrier();

        var local = new int[2 * size];
        comm.AllGather<int>([comm.LocalRank, comm.LocalSize], local);
        Expect(Enumerable.Range(0, size).All(k => local[2 * k] == k && local[2 * k + 1] == size), "local ranks on one machine");

        var mine = new int[size];
        comm.AllGather<int>([failures.Count], mine);
        string text = string.Join("; ", failures);
        (byte[] allText, _) = comm.AllGatherVariable<byte>(System.Text.Encoding.UTF8.GetBytes(text + (text.Length > 0 ? "; " : "")));
        return new Dictionary<string, object?>
        {
            ["failures"] = System.Text.Encoding.UTF8.GetString(allText),
            ["ok"] = mine.All(c => c == 0),
            ["description"] = comm.Description,
        };
    }
}
