namespace MaMA.Engine;

/// <summary>How a linear layer's weight matrix is stored.</summary>
public enum WeightLayout
{
    /// <summary>[in, out], y = x W (GPT-2's Conv1D: c_attn, c_proj, c_fc in HF checkpoints).</summary>
    Conv1D,

    /// <summary>[out, in], y = x W^T (torch.nn.Linear).</summary>
    Linear,
}
