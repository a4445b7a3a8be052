using MaMA.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace MaMA.Interop.Torch.Parity;

/// <summary>Patch embedding (conv2d with kernel = stride) and bicubic resizing of position-embedding grids.</summary>
public static partial class OpCatalog
{
    static partial void AddSpatialFamily(List<OpCase> cases)
    {
        // Patch embedding against conv2d with stride = kernel.
        void PatchCase(string name, int[] x, int[] w, bool bias, int patch)
        {
            var inputs = new List<OpInput> { new("x", x), new("weight", w) };
            if (bias) inputs.Add(new("bias", [w[0]]));
            cases.Add(new(name, inputs.ToArray(),
                t => Ops.PatchEmbed(t[0], t[1], bias ? t[2] : null, patch),
                t => nn.functional.conv2d(t[0], t[1], bias ? t[2] : null, strides: [patch, patch]),
                Tolerance: 2e-5));
        }
        PatchCase("patch_embed_square", [2, 3, 28, 28], [8, 3, 14, 14], bias: true, patch: 14);
        PatchCase("patch_embed_non_square", [2, 3, 42, 28], [8, 3, 14, 14], bias: true, patch: 14);
        PatchCase("patch_embed_no_bias_remainder", [1, 2, 10, 13], [5, 2, 4, 4], bias: false, patch: 4);

        // Bicubic resize (align_corners = false) with and without antialias: up, down, non-square with a batch axis.
        void ResizeCase(string name, int[] x, int outH, int outW, bool antialias)
        {
            bool batched = x.Length == 4;
            cases.Add(new($"{name}_{(antialias ? "aa" : "no_aa")}", [new("x", x)],
                t => Ops.ResizeBicubic(t[0], outH, outW, antialias),
                t =>
                {
                    TorchSharp.torch.Tensor input = batched ? t[0] : t[0].unsqueeze(0);
                    TorchSharp.torch.Tensor y = nn.functional.interpolate(input, size: [outH, outW], mode: InterpolationMode.Bicubic,
                        align_corners: false, antialias: antialias);
                    return batched ? y : y.squeeze(0);
                }));
        }
        foreach (bool aa in new[] { true, false })
        {
            ResizeCase("resize_bicubic_up_37_to_40", [3, 37, 37], 40, 40, aa);
            ResizeCase("resize_bicubic_down_37_to_16", [3, 37, 37], 16, 16, aa);
            ResizeCase("resize_bicubic_9x13_to_5x20", [2, 3, 9, 13], 5, 20, aa);
        }
    }
}
