using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Heads;

/// <summary>
/// torch.nn.BatchNorm1d over x [N, C] or [N, C, L], per channel C. Keys: <c>weight</c> [C] (ones),
/// <c>bias</c> [C] (zeros), both absent when <c>affine</c> is false, <c>running_mean</c> [C] (zeros),
/// <c>running_var</c> [C] (ones) and <c>num_batches_tracked</c> (0-d int64). Training normalises with
/// the batch statistics (biased variance), moves the running statistics by <c>momentum</c> towards
/// the batch mean and the unbiased batch variance, and counts the call; evaluation normalises with
/// the running statistics. Each training call is one update, so a head applied once per report
/// updates the statistics once per report, as in the published code.
/// </summary>
public sealed class BatchNorm1d : Module
{
    public BatchNorm1d(int numFeatures, bool affine = true, float momentum = 0.1f, float eps = 1e-5f, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numFeatures);
        NumFeatures = numFeatures;
        Momentum = momentum;
        Eps = eps;
        if (affine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones([numFeatures], device), noWeightDecay: true);
            Bias = RegisterParameter("bias", Tensor.Zeros([numFeatures], DType.Float32, device), noWeightDecay: true);
        }
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros([numFeatures], DType.Float32, device));
        RunningVar = RegisterBuffer("running_var", Tensor.Ones([numFeatures], device));
        RegisterBuffer("num_batches_tracked", Tensor.FromArray(new long[] { 0 }, [], device));
    }

    public int NumFeatures { get; }

    public float Momentum { get; }

    public float Eps { get; }

    public Parameter? Weight { get; }

    public Parameter? Bias { get; }

    /// <summary>[C], updated in place by training calls.</summary>
    public Tensor RunningMean { get; }

    /// <summary>[C], updated in place by training calls.</summary>
    public Tensor RunningVar { get; }

    /// <summary>Number of training calls so far (PyTorch's num_batches_tracked).</summary>
    public long NumBatchesTracked => GetBuffer("num_batches_tracked").ToArray<long>()[0];

    /// <summary>x [N, C] or [N, C, L] -> same shape.</summary>
    public Tensor Forward(Tensor x)
    {
        if (x.Rank is not (2 or 3) || x.Shape[1] != NumFeatures)
            throw new ArgumentException($"BatchNorm1d({NumFeatures}): input must be [N, {NumFeatures}] or [N, {NumFeatures}, L], got {Shape.Format(x.Shape)}.", nameof(x));
        Tensor y = Ops.BatchNorm1d(x, Weight, Bias, RunningMean, RunningVar, IsTraining, Momentum, Eps);
        if (IsTraining) Ops.AddToCounter(GetBuffer("num_batches_tracked"), 1); // on the device: no host round trip per call
        return y;
    }
}
