using MaMA.Distributed.Communication;
using MaMA.Model.MaMA;

namespace MaMA.Training.Pretraining;

/// <summary>
/// Mean of every loss term and retrieval accuracy over the micro-batches of one optimizer step
/// (or of a validation pass). Keys as written to metrics.jsonl: loss, loss_clip_v1, loss_clip_v2,
/// loss_ntxent, loss_sla_t2i, loss_sla_i2t, i2t_top1, i2t_top5, t2i_top1, t2i_top5.
/// </summary>
public sealed class StepMetrics
{
    private readonly Dictionary<string, double> _sums = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public int Count { get; private set; }

    /// <summary>Adds one micro-batch's values (reads the loss scalars from the device).</summary>
    public void Add(MaMAOutput output)
    {
        Count++;
        Put("loss", output.Loss.Item());
        Put("loss_clip_v1", output.LossClipV1.Item());
        if (output.LossClipV2 is { } v2) Put("loss_clip_v2", v2.Item());
        if (output.LossNtXent is { } nt) Put("loss_ntxent", nt.Item());
        if (output.LossSlaT2I is { } t2i) Put("loss_sla_t2i", t2i.Item());
        if (output.LossSlaI2T is { } i2t) Put("loss_sla_i2t", i2t.Item());
        Put("i2t_top1", output.Accuracy.I2TTop1);
        Put("i2t_top5", output.Accuracy.I2TTop5);
        Put("t2i_top1", output.Accuracy.T2ITop1);
        Put("t2i_top5", output.Accuracy.T2ITop5);
    }

    /// <summary>
    /// Replaces every sum with its mean over the ranks of <paramref name="comm"/> (one all-reduce):
    /// with per-rank negatives each rank's losses and accuracies are its own batch's, and the step's
    /// values are their mean, as the averaged gradients are the mean objective's. A NaN on any rank
    /// makes the mean NaN, so the non-finite guard decides alike everywhere. Every rank must have
    /// added the same terms (they run the same step).
    /// </summary>
    public void MeanOverRanks(ICommunicator comm)
    {
        ArgumentNullException.ThrowIfNull(comm);
        if (comm.Size == 1) return;
        double[] sums = _order.Select(k => _sums[k]).ToArray();
        comm.AllReduceSum<double>(sums);
        for (int i = 0; i < sums.Length; i++) _sums[_order[i]] = sums[i] / comm.Size;
    }

    /// <summary>The mean total loss (NaN before any Add).</summary>
    public double Loss => Mean("loss");

    public double Mean(string key) => Count > 0 && _sums.TryGetValue(key, out double s) ? s / Count : double.NaN;

    /// <summary>Every mean, in first-seen order, each key prefixed with <paramref name="prefix"/>.</summary>
    public IEnumerable<KeyValuePair<string, double>> Means(string prefix = "") => _order.Select(k => new KeyValuePair<string, double>(prefix + k, Mean(k)));

    /// <summary>"loss 1.234 (clip 0.9, ntxent 0.2, sla 0.1) acc 55%": the progress-bar summary.</summary>
    public string Summary()
    {
        string s = $"loss {Mean("loss"):F4}";
        if (_sums.ContainsKey("loss_ntxent"))
            s += $" (clip {Mean("loss_clip_v1"):F3}/{Mean("loss_clip_v2"):F3}, ntxent {Mean("loss_ntxent"):F3}, sla {Mean("loss_sla_t2i"):F3}/{Mean("loss_sla_i2t"):F3})";
        return s + $" i2t@1 {Mean("i2t_top1"):F0}%";
    }

    private void Put(string key, double value)
    {
        if (!_sums.TryGetValue(key, out double s))
        {
            _order.Add(key);
            s = 0;
        }
        _sums[key] = s + value;
    }
}
