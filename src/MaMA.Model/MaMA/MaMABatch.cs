using MaMA.Engine.Tensors;

namespace MaMA.Model.MaMA;

/// <summary>One micro-batch of N image-report pairs (SPEC section 6).</summary>
/// <param name="PixelValues">First view [N, 3, H, W], normalised pixels.</param>
/// <param name="InputIds">Report token ids [N, T] (int64 or int32).</param>
/// <param name="AttentionMask">[N, T], 1 keep, 0 pad.</param>
/// <param name="PixelValues2">Second view [N, 3, H, W] (another image of the study or a second
/// augmentation); needed from the late-loss step on, ignored before it.</param>
public sealed record MaMABatch(Tensor PixelValues, Tensor InputIds, Tensor AttentionMask, Tensor? PixelValues2 = null);
