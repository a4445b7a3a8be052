using MaMA.Engine.Tensors;
using MaMA.Model.Checkpoints;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// One <c>mama import</c>: the checkpoint (<paramref name="From"/>, file or folder), what it holds,
/// where the model folder goes, an optional PEFT adapter folder, the stored float dtype (null: as
/// the checkpoint has it) and an optional config (ours, or a Hugging Face config.json) that
/// replaces inference.
/// </summary>
public sealed record ImportRequest(string From, ModelArch Arch, string Out, string? Adapter = null, DType? FloatDType = null, string? ConfigPath = null);

/// <summary>What an import wrote and the notes a person should read (renames, drops, inferred settings).</summary>
public sealed record ImportResult(ModelConfigFile Config, int Tensors, long Bytes, IReadOnlyList<string> Notes);
