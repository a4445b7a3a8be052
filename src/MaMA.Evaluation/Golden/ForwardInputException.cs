namespace MaMA.Evaluation.Golden;

/// <summary>
/// A named input that a model cannot take (missing, wrong dtype, wrong shape, token outside the
/// vocabulary, report without a SEP); the message names the tensor. Command lines report it as a
/// usage error (exit 2).
/// </summary>
public sealed class ForwardInputException(string message) : ArgumentException(message);
