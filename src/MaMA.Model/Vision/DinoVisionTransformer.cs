using MaMA.Engine;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;

namespace MaMA.Model.Vision;

/// <summary>
/// DINOv2 vision transformer with register tokens (SPEC section 3; ViT-B/14-reg4 in MaMA), built so
/// its state dict is DINOv2's plain one (block_chunks = 0): <c>cls_token</c> [1, 1, C],
/// <c>pos_embed</c> [1, 1 + M*M, C], <c>register_tokens</c> [1, R, C] (absent when R = 0),
/// <c>mask_token</c> [1, C] (frozen; MaMA never masks), <c>patch_embed.proj.{weight, bias}</c>,
/// <c>blocks.N.*</c> (<see cref="VitBlock"/>) and <c>norm.{weight, bias}</c>.
/// <para>
/// Tokens (prepare_tokens_with_masks): patch conv -> [B, P, C]; prepend cls; add the position table
/// (interpolated to the input's grid, <see cref="PositionEmbedding"/>) to [cls, patches]; insert the
/// R registers after cls without position embedding -> [B, T, C], T = 1 + R + P, ordered
/// [cls, registers, patches]. Then the blocks, then the final LayerNorm.
/// </para>
/// Initialisation as DINOv2's init_weights: pos_embed trunc normal 0.02, cls and registers normal
/// 1e-6, linears trunc normal 0.02 with zero bias, LayerScale gamma = config.LayerScaleInit,
/// norms ones/zeros, mask_token zeros, the patch conv PyTorch's Conv2d default.
/// </summary>
public sealed class DinoVisionTransformer : Module
{
    private readonly PositionEmbedding _positions;

    public DinoVisionTransformer(VisionConfig config, Random rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        int c = config.EmbedDim, m = config.PositionGrid;

        // Registration order gives PyTorch's state-dict order: own parameters, then children.
        PatchEmbed = new PatchEmbedding(config, rng, device);
        ClsToken = RegisterParameter("cls_token", VitInit.Normal(rng, [1, 1, c], VitInit.TokenStd, device), noWeightDecay: true);
        PosEmbed = RegisterParameter("pos_embed", VitInit.TruncNormal(rng, [1, 1 + m * m, c], VitInit.WeightStd, device), noWeightDecay: true);
        if (config.NumRegisters > 0)
            RegisterTokens = RegisterParameter("register_tokens", VitInit.Normal(rng, [1, config.NumRegisters, c], VitInit.TokenStd, device), noWeightDecay: true);
        MaskToken = RegisterParameter("mask_token", Tensor.Zeros([1, c], device: device), noWeightDecay: true);
        MaskToken.Freeze();

        RegisterModule("patch_embed", PatchEmbed);
        Blocks = RegisterModule("blocks", new ModuleList<VitBlock>(Enumerable.Range(0, config.Depth).Select(_ => new VitBlock(config, rng, device))));
        Norm = RegisterModule("norm", new LayerNorm(c, config.LayerNormEps, device));
        _positions = new PositionEmbedding(PosEmbed, m);
    }

    public VisionConfig Config { get; }

    /// <summary>cls_token [1, 1, C].</summary>
    public Parameter ClsToken { get; }

    /// <summary>pos_embed [1, 1 + M*M, C]: cls entry, then the M x M grid row-major.</summary>
    public Parameter PosEmbed { get; }

    /// <summary>register_tokens [1, R, C]; null when the config has no registers.</summary>
    public Parameter? RegisterTokens { get; }

    /// <summary>mask_token [1, C]: kept for checkpoint compatibility, frozen and never used.</summary>
    public Parameter MaskToken { get; }

    public PatchEmbedding PatchEmbed { get; }

    public ModuleList<VitBlock> Blocks { get; }

    /// <summary>The final LayerNorm (<c>norm</c>) giving x_norm; MaMA freezes its weight and bias.</summary>
    public LayerNorm Norm { get; }

    /// <summary>The position table and its per-grid interpolation cache.</summary>
    public PositionEmbedding Positions => _positions;

    /// <summary>
    /// When on, each block runs through <see cref="ActivationCheckpoint.Run"/>: only block inputs
    /// are kept during training and each block is recomputed in backward (same gradients).
    /// </summary>
    public bool UseActivationCheckpointing { get; set; }

    /// <summary>
    /// pixels [B, Cin, H, W] (H, W multiples of the patch; any floating dtype, computed in fp32) ->
    /// x_prenorm, x_norm [B, T, C], cls [B, C] and patches [B, P, C], with P = (H/p)(W/p) and
    /// T = 1 + R + P.
    /// </summary>
    public VisionOutput Forward(Tensor pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        Tensor x = PrepareTokens(pixels);
        foreach (VitBlock block in Blocks)
            x = UseActivationCheckpointing ? ActivationCheckpoint.Run(block, block.Forward, x) : block.Forward(x);
        Tensor xNorm = Norm.Forward(x);                                      // [B, T, C]
        int b = xNorm.Shape[0], t = xNorm.Shape[1], c = xNorm.Shape[2], first = 1 + Config.NumRegisters;
        Tensor cls = xNorm.Narrow(1, 0, 1).Reshape(b, c);                    // [B, C]
        Tensor patches = xNorm.Narrow(1, first, t - first);                  // [B, P, C]
        return new VisionOutput(x, xNorm, cls, patches);
    }

    /// <summary>pixels [B, Cin, H, W] -> tokens [B, 1 + R + P, C] = [cls + pos[0], registers, patches + pos[1:]].</summary>
    private Tensor PrepareTokens(Tensor pixels)
    {
        Tensor patches = PatchEmbed.Forward(pixels);                         // [B, P, C]
        int b = patches.Shape[0], p = patches.Shape[1], c = patches.Shape[2];
        int gridH = pixels.Shape[2] / Config.PatchSize, gridW = pixels.Shape[3] / Config.PatchSize;
        Tensor pos = _positions.For(gridH, gridW);                           // [1, 1 + P, C]
        Tensor cls = Ops.Add(ClsToken, pos.Narrow(1, 0, 1)).Expand(b, 1, c); // [B, 1, C]
        patches = Ops.Add(patches, pos.Narrow(1, 1, p));                     // [B, P, C]
        List<Tensor> parts = [cls];
        if (RegisterTokens is not null) parts.Add(RegisterTokens.Expand(b, Config.NumRegisters, c)); // [B, R, C]
        parts.Add(patches);
        return Ops.Concat(parts, axis: 1);                                   // [B, T, C]
    }
}
