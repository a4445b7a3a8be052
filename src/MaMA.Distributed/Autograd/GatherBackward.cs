namespace MaMA.Distributed.Autograd;

/// <summary>
/// What the backward of <see cref="GatherWithGrad"/> hands to the local rows. Let L_r be the loss
/// rank r computes from the gathered tensor X = [x_0; ...; x_{R-1}] and let the gradient all-reduce
/// average over ranks (<see cref="DataParallel.GradientBucketer"/>, DDP's convention). The training
/// objective is L = mean_r L_r, and its gradient for rank r's parameters is
/// (1/R) sum_r' dL_r'/dx_r dx_r/dtheta. Rank r's backward only sees dL_r/dX.
/// </summary>
public enum GatherBackward
{
    /// <summary>
    /// dx_r = sum over ranks r' of dL_r'/dX[rows of r] (one all-reduce of dX, then the local slice;
    /// torch.distributed.nn.all_gather, open_clip's gather_with_grad). Exact for any per-rank losses,
    /// including the "local loss" form where each rank computes only its own rows.
    /// </summary>
    SumOverRanks,

    /// <summary>
    /// dx_r = R * dL_r/dX[rows of r], no communication. Exact when every rank computes the same
    /// function of X (the replicated global loss: then dL_r'/dX is the same on every rank and the
    /// sum above is R times the local term). Saves an all-reduce as large as X (the gathered patch
    /// embeddings are ~400 MB at the paper's shapes on 4 ranks).
    /// </summary>
    Replicated,

    /// <summary>
    /// dx_r = dL_r/dX[rows of r] (open_clip's default, gather without grad and the local rows put
    /// back). With a replicated global loss and averaged gradients this is 1/R of the true gradient
    /// of the embeddings while the scale parameters get the full one: kept for the test that shows it.
    /// </summary>
    LocalOnly,
}
