using MaMA.Model.Vision;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using EngineTensor = MaMA.Engine.Tensors.Tensor;

namespace MaMA.Interop.Torch.Reference;

/// <summary>
/// The DINOv2 ViT with registers written with TorchSharp's torch.nn, line for line after DINOv2's
/// dino_transformer.py / layers (block.py, attention.py, layer_scale.py, mlp.py, patch_embed.py)
/// with MaMA's settings: block_chunks 0, interpolate_antialias True, interpolate_offset 0.0, no drop
/// path, plain (non-xFormers) attention with an explicit softmax. Parameter names are DINOv2's, so
/// one state dict loads into this and into <see cref="DinoVisionTransformer"/>; parity tests
/// compare the two. Reference only: never used by the engine.
/// </summary>
public sealed class TorchDinoV2 : nn.Module
{
    // Field names are the state-dict keys: TorchSharp registers fields by name, in declaration order.
    private readonly VisionConfig _config;
    private readonly Parameter cls_token;
    private readonly Parameter pos_embed;
    private readonly Parameter? register_tokens;
    private readonly Parameter mask_token;
    private readonly TorchDinoPatchEmbed patch_embed;
    private readonly ModuleList<TorchDinoBlock> blocks;
    private readonly LayerNorm norm;

    public TorchDinoV2(VisionConfig config) : base(nameof(TorchDinoV2))
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        int c = config.EmbedDim, m = config.PositionGrid;
        cls_token = new Parameter(zeros(1, 1, c));
        pos_embed = new Parameter(zeros(1, 1 + m * m, c));
        if (config.NumRegisters > 0) register_tokens = new Parameter(zeros(1, config.NumRegisters, c));
        mask_token = new Parameter(zeros(1, c), requires_grad: false);
        patch_embed = new TorchDinoPatchEmbed(config.InChannels, c, config.PatchSize);
        blocks = nn.ModuleList(Enumerable.Range(0, config.Depth).Select(_ => new TorchDinoBlock(config)).ToArray());
        norm = nn.LayerNorm(c, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>Copies an engine state dict (same keys) into this module's parameters, as fp32.</summary>
    public void LoadEngineState(IReadOnlyDictionary<string, EngineTensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var own = state_dict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new ArgumentException($"TorchDinoV2: missing keys [{string.Join(", ", missing)}], unexpected keys [{string.Join(", ", unexpected)}].");
        using var _ = no_grad();
        foreach ((string key, Tensor target) in own)
        {
            using Tensor source = TorchBridge.ToTorch(state[key]).to(ScalarType.Float32);
            if (!source.shape.SequenceEqual(target.shape))
                throw new ArgumentException($"TorchDinoV2: {key} has shape [{string.Join(", ", source.shape)}], expected [{string.Join(", ", target.shape)}].");
            target.copy_(source);
        }
    }

    /// <summary>
    /// forward_features(pixels [B, Cin, H, W]): x_prenorm and x_norm [B, T, C], cls [B, C] and
    /// patches [B, P, C].
    /// </summary>
    public (Tensor XPrenorm, Tensor XNorm, Tensor Cls, Tensor Patches) Forward(Tensor pixels)
    {
        Tensor x = PrepareTokens(pixels);
        foreach (TorchDinoBlock block in blocks) x = block.Forward(x);
        Tensor xNorm = norm.forward(x);
        long r = _config.NumRegisters;
        return (x, xNorm, xNorm[.., 0], xNorm[.., (int)(r + 1)..]);
    }

    /// <summary>prepare_tokens_with_masks without masks.</summary>
    private Tensor PrepareTokens(Tensor pixels)
    {
        long b = pixels.shape[0], w = pixels.shape[2], h = pixels.shape[3];
        Tensor x = patch_embed.Forward(pixels);                                        // [B, P, C]
        x = cat([cls_token.expand(b, -1, -1), x], 1);                                     // [B, 1 + P, C]
        x = x + InterpolatePosEncoding(x, w, h);
        if (register_tokens is not null)
            x = cat([x[.., ..1], register_tokens.expand(b, -1, -1), x[.., 1..]], 1);       // [B, T, C]
        return x;
    }

    /// <summary>interpolate_pos_encoding with interpolate_offset = 0 (size given) and antialias.</summary>
    private Tensor InterpolatePosEncoding(Tensor x, long w, long h)
    {
        long npatch = x.shape[1] - 1, n = pos_embed.shape[1] - 1;
        if (npatch == n && w == h) return pos_embed;
        Tensor classPos = pos_embed[.., 0];
        Tensor patchPos = pos_embed[.., 1..];
        long dim = x.shape[^1], w0 = w / _config.PatchSize, h0 = h / _config.PatchSize;
        long m = (long)Math.Sqrt(n);
        patchPos = nn.functional.interpolate(patchPos.reshape(1, m, m, dim).permute(0, 3, 1, 2),
            size: [w0, h0], mode: InterpolationMode.Bicubic, align_corners: false, antialias: true);
        patchPos = patchPos.permute(0, 2, 3, 1).reshape(1, -1, dim);
        return cat([classPos.unsqueeze(0), patchPos], 1);
    }
}

/// <summary>DINOv2 PatchEmbed: conv <c>proj</c> (kernel = stride = patch), flattened to [B, P, C].</summary>
internal sealed class TorchDinoPatchEmbed : nn.Module
{
    private readonly Conv2d proj;

    public TorchDinoPatchEmbed(int inChannels, int dim, int patch) : base(nameof(TorchDinoPatchEmbed))
    {
        proj = nn.Conv2d(inChannels, dim, patch, stride: patch);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x) => proj.forward(x).flatten(2).transpose(1, 2);
}

/// <summary>DINOv2 Block with LayerScale: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))).</summary>
internal sealed class TorchDinoBlock : nn.Module
{
    private readonly LayerNorm norm1;
    private readonly TorchDinoAttention attn;
    private readonly TorchDinoLayerScale ls1;
    private readonly LayerNorm norm2;
    private readonly TorchDinoMlp mlp;
    private readonly TorchDinoLayerScale ls2;

    public TorchDinoBlock(VisionConfig config) : base(nameof(TorchDinoBlock))
    {
        int c = config.EmbedDim;
        norm1 = nn.LayerNorm(c, config.LayerNormEps);
        attn = new TorchDinoAttention(c, config.NumHeads);
        ls1 = new TorchDinoLayerScale(c, config.LayerScaleInit);
        norm2 = nn.LayerNorm(c, config.LayerNormEps);
        mlp = new TorchDinoMlp(c, config.MlpHiddenDim);
        ls2 = new TorchDinoLayerScale(c, config.LayerScaleInit);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        x = x + ls1.Forward(attn.Forward(norm1.forward(x)));
        return x + ls2.Forward(mlp.Forward(norm2.forward(x)));
    }
}

/// <summary>DINOv2 Attention (the non-xFormers path): q * scale @ k^T, softmax, @ v, proj.</summary>
internal sealed class TorchDinoAttention : nn.Module
{
    private readonly Linear qkv, proj;
    private readonly long _heads;
    private readonly double _scale;

    public TorchDinoAttention(int dim, int heads) : base(nameof(TorchDinoAttention))
    {
        _heads = heads;
        _scale = Math.Pow(dim / heads, -0.5);
        qkv = nn.Linear(dim, 3 * dim, hasBias: true);
        proj = nn.Linear(dim, dim, hasBias: true);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        Tensor packed = qkv.forward(x).reshape(b, n, 3, _heads, c / _heads).permute(2, 0, 3, 1, 4); // [3, B, H, N, D]
        Tensor q = packed[0] * _scale, k = packed[1], v = packed[2];
        Tensor attn = q.matmul(k.transpose(-2, -1)).softmax(-1);
        return proj.forward(attn.matmul(v).transpose(1, 2).reshape(b, n, c));
    }
}

/// <summary>LayerScale: x * gamma.</summary>
internal sealed class TorchDinoLayerScale : nn.Module
{
    private readonly Parameter gamma;

    public TorchDinoLayerScale(int dim, float init) : base(nameof(TorchDinoLayerScale))
    {
        gamma = new Parameter(full(dim, init));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x) => x * gamma;
}

/// <summary>Mlp: fc2(gelu(fc1(x))) with the exact (erf) GELU.</summary>
internal sealed class TorchDinoMlp : nn.Module
{
    private readonly Linear fc1, fc2;

    public TorchDinoMlp(int dim, int hidden) : base(nameof(TorchDinoMlp))
    {
        fc1 = nn.Linear(dim, hidden, hasBias: true);
        fc2 = nn.Linear(hidden, dim, hasBias: true);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x) => fc2.forward(nn.functional.gelu(fc1.forward(x)));
}
