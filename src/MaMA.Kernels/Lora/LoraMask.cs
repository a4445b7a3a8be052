namespace MaMA.Kernels.Lora;

/// <summary>
/// The LoRA input dropout as the accelerator kernels take it (a plain kernel parameter): element e
/// of x is kept with probability <see cref="KeepProb"/> (then scaled by <see cref="Scale"/>) by the
/// Philox draw of its index in the whole batch, <see cref="Base"/> + e, at the stream's
/// (<see cref="Seed"/>, <see cref="Offset"/>). KeepProb 1 is no dropout. The fast CPU backend's
/// twin is <see cref="Cpu.LoraDropout"/>, which makes these.
/// </summary>
public struct LoraMask
{
    public float KeepProb;
    public float Scale;
    public ulong Seed;
    public ulong Offset;
    public long Base;
}
