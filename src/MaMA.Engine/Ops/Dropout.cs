using ILGPU;
using MaMA.Engine.Autograd;
using MaMA.Engine.Tensors;
using MaMA.Kernels.Cpu;
using DropoutKernels = MaMA.Kernels.Random.Dropout;
using DropoutMask = MaMA.Kernels.Random.DropoutMask;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// Inverted dropout: in training each element is zeroed with probability <paramref name="p"/> and
    /// the kept ones are scaled by 1 / (1 - p); in evaluation (or with p = 0) it is the identity and
    /// returns <paramref name="x"/>. The keep-mask comes from Philox-4x32-10 keyed by
    /// <paramref name="seed"/> at counter block <paramref name="offset"/>: the same (seed, offset)
    /// gives the same mask on every device, and backward regenerates it rather than storing it.
    /// Callers advance <paramref name="offset"/> per call so masks stay independent.
    /// <paramref name="elementBase"/> is the index of x's first element in the whole batch (a
    /// data-parallel rank's rows, <see cref="Nn.DropoutRows.ElementBase"/>; 0 in one process): element
    /// e draws the mask of element base + e, as LoRA's input dropout does.
    /// </summary>
    public static Tensor Dropout(Tensor x, float p, ulong seed, ulong offset, bool training, long elementBase = 0)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1].");
        ArgumentOutOfRangeException.ThrowIfNegative(elementBase);
        Dispatch.RequireFloat("dropout", x);
        if (!training || p == 0f) return x;
        if ((elementBase + x.Numel + 3) / 4 > uint.MaxValue)
            throw new ArgumentException($"dropout: element indices up to {elementBase + x.Numel} exceed the Philox counter's 2^34 elements.", nameof(elementBase));
        Tensor xf = Dispatch.F32(x);
        Tensor y = ApplyDropout(xf, p, seed, offset, elementBase);
        return GradMode.RecordIfNeeded(y, new DropoutNode(x, p, seed, offset, elementBase));
    }

    /// <summary>mask(seed, offset, base + e) * x / (1 - p) over contiguous fp32 <paramref name="xf"/>.</summary>
    private static unsafe Tensor ApplyDropout(Tensor xf, float p, ulong seed, ulong offset, long elementBase)
    {
        Tensor y = Tensor.Empty(xf.Shape, DType.Float32, xf.Device);
        int n = checked((int)xf.Numel);
        if (n == 0) return y;
        float keep = 1f - p;
        float scale = keep > 0f ? 1f / keep : 0f;
        Dispatch.Run(xf.Device,
            cpu: () =>
            {
                // The same mask through LoRA's vectorised Philox (eight blocks per AVX-512 pass): the
                // factors (1 / (1 - p) or 0) are written into y, then y *= x, chunk by chunk across cores.
                var mask = new PhiloxDropout(p, seed, offset, elementBase);
                nint px = (nint)xf.Ptr<float>(), py = (nint)y.Ptr<float>();
                CpuParallel.For(n, CpuParallel.ElementChunk, (start, length) =>
                {
                    var factors = new Span<float>((float*)py + start, (int)length);
                    mask.Fill(start, (int)length, (float*)py + start);
                    TensorPrimitives.Multiply(new ReadOnlySpan<float>((float*)px + start, (int)length), factors, factors);
                });
            },
            ilgpu: s => LaunchDropout(s, xf.View<float>(), y.View<float>(), keep, scale, seed, offset, elementBase));
        return y;
    }

    /// <summary>
    /// y[e] = x[e] * the factor of batch element <paramref name="g0"/> + e, by the Dropout kernel on
    /// an ILGPU stream (x and y may be one view: in place). One launch index per Philox block.
    /// </summary>
    private static void LaunchDropout(ILGPU.Runtime.AcceleratorStream s, ArrayView<float> x, ArrayView<float> y, float keep, float scale,
        ulong seed, ulong offset, long g0)
    {
        int n = checked((int)x.Length), lead = (int)(g0 & 3);
        int groups = (int)(((long)lead + n + 3) / 4);
        DropoutKernels.Apply.Launch(s, groups, x, y, n, keep, scale, (uint)seed, (uint)(seed >> 32), (uint)offset, (uint)(offset >> 32),
            (uint)(g0 >> 2), lead);
    }

    /// <summary>
    /// x[e] *= mask factor of element <paramref name="first"/> + e, in place on an ILGPU stream: the
    /// Dropout kernel over a buffer that is elements first .. first + n - 1 of the masked tensor
    /// (the attention GEMM forms' chunk of probabilities). Nothing when the mask is off.
    /// </summary>
    internal static void DropInPlace(ILGPU.Runtime.AcceleratorStream s, ArrayView<float> x, DropoutMask mask, long first)
    {
        if (!mask.Active || x.Length == 0) return;
        LaunchDropout(s, x, x, 1f - mask.P, mask.Scale, mask.Seed, mask.Offset, mask.Base + first);
    }

    private sealed class DropoutNode(Tensor x, float p, ulong seed, ulong offset, long elementBase) : Node(x)
    {
        public override string Name => "dropout";

        // y = m * x * scale, so dx = m * dy * scale: the same kernel over dy with the same mask.
        public override Tensor?[] Backward(Tensor dy) => [ApplyDropout(Dispatch.F32(dy), p, seed, offset, elementBase)];
    }
}
