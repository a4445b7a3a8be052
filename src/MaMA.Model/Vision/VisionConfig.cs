using System.Text.Json.Serialization;

namespace MaMA.Model.Vision;

/// <summary>
/// DINOv2 ViT with register tokens (SPEC section 3). The defaults are ViT-B/14-reg4 at 518x518:
/// embed 768, depth 12, heads 12 (D 64), MLP 3072 (erf GELU), patch 14, 4 registers, LayerNorm eps
/// 1e-6, position table trained for a 37x37 grid ([1, 1 + 37*37, 768]).
/// </summary>
public sealed record VisionConfig
{
    /// <summary>Input side in pixels (square); the patch grid is ImageSize / PatchSize.</summary>
    public int ImageSize { get; init; } = 518;

    public int PatchSize { get; init; } = 14;

    public int InChannels { get; init; } = 3;

    /// <summary>C.</summary>
    public int EmbedDim { get; init; } = 768;

    public int Depth { get; init; } = 12;

    /// <summary>H; head dim D = EmbedDim / NumHeads.</summary>
    public int NumHeads { get; init; } = 12;

    /// <summary>Hidden width of each block's MLP.</summary>
    public int MlpHiddenDim { get; init; } = 3072;

    public int NumRegisters { get; init; } = 4;

    public float LayerNormEps { get; init; } = 1e-6f;

    /// <summary>
    /// LayerScale gamma at initialisation. The published code builds its ViT with
    /// <c>init_values=1.0</c> (DINOv2's hub models; the LayerScale class default 1e-5 is not what
    /// MaMA uses); it only matters when training from scratch, since checkpoints overwrite gamma.
    /// </summary>
    public float LayerScaleInit { get; init; } = 1f;

    /// <summary>Side of the patch grid the position table was trained for (37 for 518 / 14).</summary>
    public int PositionGrid { get; init; } = 37;

    /// <summary>Patch grid side at <see cref="ImageSize"/>.</summary>
    [JsonIgnore]
    public int Grid => ImageSize / PatchSize;

    /// <summary>P = Grid^2.</summary>
    [JsonIgnore]
    public int NumPatches => Grid * Grid;

    /// <summary>T = 1 + registers + P (1374 at 518).</summary>
    [JsonIgnore]
    public int NumTokens => 1 + NumRegisters + NumPatches;

    [JsonIgnore]
    public int HeadDim => EmbedDim / NumHeads;

    /// <summary>DINOv2 ViT-B/14 with 4 registers at 518x518 (the paper's image encoder).</summary>
    public static VisionConfig VitB14Reg4 { get; } = new();

    /// <summary>A tiny ViT for tests and the CPU demo: 42x42 input (3x3 patches), C 32, 2 blocks, 2 heads.</summary>
    public static VisionConfig Tiny { get; } = new()
    {
        ImageSize = 42, EmbedDim = 32, Depth = 2, NumHeads = 2, MlpHiddenDim = 64, PositionGrid = 3, LayerScaleInit = 0.1f,
    };

    /// <summary>Throws naming the first inconsistent field.</summary>
    public void Validate()
    {
        if (ImageSize <= 0 || PatchSize <= 0 || ImageSize % PatchSize != 0)
            throw new ArgumentException($"vision.image_size ({ImageSize}) must be a positive multiple of vision.patch_size ({PatchSize}).");
        if (EmbedDim <= 0 || NumHeads <= 0 || EmbedDim % NumHeads != 0)
            throw new ArgumentException($"vision.embed_dim ({EmbedDim}) must be a positive multiple of vision.num_heads ({NumHeads}).");
        if (Depth < 0 || MlpHiddenDim <= 0 || NumRegisters < 0 || PositionGrid <= 0 || InChannels <= 0)
            throw new ArgumentException("vision: depth, mlp_hidden_dim, num_registers, position_grid and in_channels must be positive (depth, registers >= 0).");
    }
}
