using MaMA.Engine.Tensors;

namespace MaMA.Model.MaMA;

/// <summary>What <see cref="CausalLMEncoder.Encode"/> gives for a batch of B reports.</summary>
/// <param name="Hidden">ln_f hidden states [B, T, C].</param>
/// <param name="Pooled">The report feature [B, C] (<see cref="MaMAConfig.TextPooling"/>; reference mode: mean over all T).</param>
/// <param name="Embedding">The global embedding [B, E]: L2-normalised <c>global_embed(Pooled)</c>.</param>
/// <param name="Sentences">Hidden states at the SEP tokens, packed in report order [sum S, C].</param>
/// <param name="Offsets">[B + 1] int64: report m owns rows Offsets[m] .. Offsets[m + 1] of <paramref name="Sentences"/>.</param>
public sealed record TextEncoding(Tensor Hidden, Tensor Pooled, Tensor Embedding, Tensor Sentences, Tensor Offsets);
