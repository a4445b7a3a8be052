using MaMA.Engine.Tensors;
using MaMA.Model.Vision;

namespace MaMA.Model.MaMA;

/// <summary>What <see cref="DinoEncoder.Encode"/> gives for a batch of B images.</summary>
/// <param name="Vision">The ViT's outputs (x_prenorm, x_norm [B, T, C], cls, patches [B, P, C]).</param>
/// <param name="Pooled">The image feature [B, C]: mean of x_prenorm over all T tokens (published <c>pool_feat</c>).</param>
/// <param name="Embedding">The global embedding [B, E]: L2-normalised <c>global_embed(Pooled)</c>.</param>
public sealed record ImageEncoding(VisionOutput Vision, Tensor Pooled, Tensor Embedding);
