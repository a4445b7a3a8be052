using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using PatchifyKernels = MaMA.Kernels.Spatial.Patchify;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// ViT patch embedding: conv2d of x [B, Cin, H, W] with weight [E, Cin, k, k] (k = patch),
    /// stride k, no padding, plus an optional bias [E], giving [B, E, H / k, W / k]. Computed as
    /// im2col (<see cref="Patchify"/>) -> [B * P, Cin * k * k], a matmul with the flattened weight
    /// and a bias add, so the weight and bias gradients come from matmul and broadcasting.
    /// Pixels past the last whole patch are ignored (conv2d's floor).
    /// </summary>
    public static Tensor PatchEmbed(Tensor x, Tensor weight, Tensor? bias, int patch)
    {
        Dispatch.SameDevice("patch_embed", bias is null ? new[] { x, weight } : new[] { x, weight, bias });
        if (weight.Rank != 4 || weight.Shape[2] != patch || weight.Shape[3] != patch)
            throw new ArgumentException($"patch_embed: weight must be [E, Cin, {patch}, {patch}], got {Shape.Format(weight.Shape)}.");
        if (x.Rank != 4 || x.Shape[1] != weight.Shape[1])
            throw new ArgumentException($"patch_embed: x must be [B, {weight.Shape[1]}, H, W] for weight {Shape.Format(weight.Shape)}, got {Shape.Format(x.Shape)}.");
        int e = weight.Shape[0];
        if (bias is not null && !Shape.SameShape(bias.Shape, [e]))
            throw new ArgumentException($"patch_embed: bias must be [{e}], got {Shape.Format(bias.Shape)}.");
        int b = x.Shape[0], gh = x.Shape[2] / patch, gw = x.Shape[3] / patch;

        Tensor cols = Patchify(x, patch);                                        // [B * P, Cin * k * k]
        Tensor flat = Reshape(weight, e, -1);                                     // [E, Cin * k * k]
        Tensor y = MatMul(cols, flat, transposeB: true);                          // [B * P, E]
        if (bias is not null) y = Add(y, bias);
        return Contiguous(Permute(Reshape(y, b, gh, gw, e), 0, 3, 1, 2));      // [B, E, gh, gw]
    }

    /// <summary>
    /// im2col for non-overlapping <paramref name="patch"/> x <paramref name="patch"/> patches of
    /// x [B, C, H, W]: rows are patches (b, py, px) row-major, columns (c, ky, kx) row-major, giving
    /// [B * (H / patch) * (W / patch), C * patch * patch]. Its backward is the matching col2im.
    /// </summary>
    public static unsafe Tensor Patchify(Tensor x, int patch)
    {
        Dispatch.RequireFloat("patchify", x);
        if (x.Rank != 4) throw new ArgumentException($"patchify needs x of shape [B, C, H, W], got {Shape.Format(x.Shape)}.");
        if (patch < 1) throw new ArgumentOutOfRangeException(nameof(patch), patch, "patch size must be positive.");
        int b = x.Shape[0], cin = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int gh = h / patch, gw = w / patch;
        if (gh == 0 || gw == 0)
            throw new ArgumentException($"patchify: image {h}x{w} is smaller than one {patch}x{patch} patch.");
        Tensor xf = Dispatch.F32(x);
        Tensor cols = Tensor.Empty([checked(b * gh * gw), checked(cin * patch * patch)], DType.Float32, x.Device);
        int count = checked((int)cols.Numel);
        if (count > 0)
            Dispatch.Run(x.Device,
                cpu: () => PatchifyCpu.Forward(b, cin, h, w, patch, gh, gw, xf.Ptr<float>(), cols.Ptr<float>()),
                ilgpu: s => PatchifyKernels.Forward.Launch(s, count, xf.View<float>(), cols.View<float>(), cin, h, w, patch, gh, gw));
        return GradMode.RecordIfNeeded(cols, new PatchifyNode(x, patch, gh, gw));
    }

    private sealed class PatchifyNode(Tensor x, int patch, int gh, int gw) : Node(x)
    {
        public override string Name => "patchify";

        public override unsafe Tensor?[] Backward(Tensor dy)
        {
            Edge x = Edges[0];
            int cin = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
            Tensor g = Dispatch.F32(dy);
            Tensor dx = Tensor.Empty(x.Shape, DType.Float32, x.Device);
            int count = checked((int)dx.Numel);
            if (count > 0)
                Dispatch.Run(x.Device,
                    cpu: () => PatchifyCpu.Backward(x.Shape[0], cin, h, w, patch, gh, gw, g.Ptr<float>(), dx.Ptr<float>()),
                    ilgpu: s => PatchifyKernels.Backward.Launch(s, count, g.View<float>(), dx.View<float>(), cin, h, w, patch, gh, gw));
            return [dx];
        }
    }
}
