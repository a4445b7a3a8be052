using System.Text.Json.Serialization;

namespace MaMA.Distributed.DataParallel;

/// <summary>
/// Which batch the contrastive terms take their negatives from when R ranks train together
/// (training config key <c>negatives</c>; docs/distributed.md). With one rank both are the same.
/// </summary>
[JsonConverter(typeof(MaMA.Engine.Serialization.StringEnumConverter<Negatives>))]
public enum Negatives
{
    /// <summary>
    /// Reference mode, the published DDP run: CLIP and SLA over each rank's micro-batch of n_r pairs
    /// (the published <c>forward</c> scores its own batch), NT-Xent over the global batch (lightly's
    /// <c>NTXentLoss(gather_distributed=True)</c>). With gradients averaged over ranks the objective
    /// is mean_r [CLIP_r + SLA_r] + NT-Xent(global): it changes with the number of ranks.
    /// </summary>
    [JsonStringEnumMemberName("per_rank")]
    PerRank,

    /// <summary>
    /// Every term over the gathered global batch of R n_r pairs: a run on R ranks is one process
    /// with the global micro-batch (up to the BatchNorm heads' per-rank statistics), whatever R is.
    /// </summary>
    [JsonStringEnumMemberName("global")]
    Global,
}
