using MaMA.Engine.Tensors;

namespace MaMA.Model.Vision;

/// <summary>
/// What the DINOv2 ViT returns (forward_features): T = 1 + R + P tokens ordered
/// [cls, registers x R, patches x P].
/// </summary>
/// <param name="XPrenorm">x_prenorm [B, T, C]: the last block's output.</param>
/// <param name="XNorm">x_norm [B, T, C]: the final LayerNorm (<c>norm</c>) of <paramref name="XPrenorm"/>.</param>
/// <param name="Cls">x_norm_clstoken [B, C] = x_norm[:, 0].</param>
/// <param name="Patches">x_norm_patchtokens [B, P, C] = x_norm[:, 1 + R:], patches row-major over the grid (a view of x_norm).</param>
public sealed record VisionOutput(Tensor XPrenorm, Tensor XNorm, Tensor Cls, Tensor Patches);
