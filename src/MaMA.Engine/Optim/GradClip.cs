using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;
using Device = MaMA.Engine.Devices.Device;
using NormKernels = MaMA.Kernels.Optim.GradNorm;

namespace MaMA.Engine.Optim;

/// <summary>Gradient-norm clipping, as torch.nn.utils.clip_grad_norm_ with the L2 norm.</summary>
public static class GradClip
{
    /// <summary>
    /// Total L2 norm over the gradients of <paramref name="parameters"/> (those with a Grad; each
    /// parameter counted once). When it exceeds the limit, i.e. maxNorm / (total + 1e-6) &lt; 1,
    /// every gradient is scaled in place by that factor. Returns the norm before clipping; a
    /// NaN or infinite norm is returned as is and nothing is scaled. 0 when no parameter has a gradient.
    /// </summary>
    public static float ClipGradNorm(IEnumerable<Parameter> parameters, float maxNorm)
    {
        if (!(maxNorm >= 0f)) throw new ArgumentOutOfRangeException(nameof(maxNorm), $"Invalid max norm {maxNorm}.");
        List<Parameter> withGrad = WithGrad(parameters);
        double total = TotalNorm(withGrad);
        if (!double.IsFinite(total)) return (float)total;
        float coef = (float)(maxNorm / (total + 1e-6));
        if (coef < 1f) Scale(withGrad, coef);
        return (float)total;
    }

    /// <summary>The total L2 norm of the gradients, without clipping.</summary>
    public static float GradNorm(IEnumerable<Parameter> parameters) => (float)TotalNorm(WithGrad(parameters));

    /// <summary>Multiplies every present gradient by <paramref name="factor"/> in place (loss-scale undo, accumulation averaging).</summary>
    public static void ScaleGrads(IEnumerable<Parameter> parameters, float factor) => Scale(WithGrad(parameters), factor);

    private static List<Parameter> WithGrad(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        return parameters.Where(p => p.Grad is not null && seen.Add(p)).ToList();
    }

    /// <summary>
    /// sqrt of the sum over tensors of their squared norms: per-tensor partial sums of squares
    /// on the device (one buffer per device, one host read), added up in double on the host.
    /// </summary>
    private static unsafe double TotalNorm(List<Parameter> parameters)
    {
        double sumSquares = 0.0;
        using IDisposable _ = GradMode.NoGrad();
        foreach (IGrouping<Device, Parameter> onDevice in parameters.GroupBy(p => p.Grad!.Device, ReferenceEqualityComparer.Instance as IEqualityComparer<Device>))
        {
            Device device = onDevice.Key;
            var grads = new List<(Tensor G, long N, int Count, long ItemStride, long ElementStride, int PerItem, int Offset)>();
            int total = 0;
            foreach (Parameter p in onDevice)
            {
                Tensor g = Dispatch.F32(p.Grad!);
                long n = g.Numel;
                if (n == 0) continue;
                int count, perItem;
                long itemStride, elementStride;
                if (device.IsCpu)
                {
                    // Contiguous chunks per work item.
                    const int chunk = 4096;
                    count = checked((int)((n + chunk - 1) / chunk));
                    perItem = chunk;
                    itemStride = chunk;
                    elementStride = 1;
                }
                else
                {
                    // Grid stride: neighbouring threads read neighbouring elements.
                    count = (int)Math.Clamp((n + 127) / 128, 1, 65536);
                    perItem = checked((int)((n + count - 1) / count));
                    itemStride = 1;
                    elementStride = count;
                }
                grads.Add((g, n, count, itemStride, elementStride, perItem, total));
                total = checked(total + count);
            }
            if (total == 0) continue;
            using Tensor partial = Tensor.Empty([total], DType.Float32, device);
            foreach (var e in grads)
            {
                Dispatch.Run(device,
                    cpu: () => NormKernels.SumOfSquares.RunCpu(e.Count, e.G.Ptr<float>(), partial.Ptr<float>(), e.N, e.ItemStride, e.ElementStride, e.PerItem, e.Offset),
                    ilgpu: s => NormKernels.SumOfSquares.Launch(s, e.Count, e.G.View<float>(), partial.View<float>(), e.N, e.ItemStride, e.ElementStride, e.PerItem, e.Offset));
            }
            float[] sums = partial.ToArray<float>();
            foreach (var e in grads)
            {
                double s = 0.0;
                for (int i = e.Offset; i < e.Offset + e.Count; i++) s += sums[i];
                sumSquares += s;
            }
        }
        return Math.Sqrt(sumSquares);
    }

    private static unsafe void Scale(List<Parameter> parameters, float factor)
    {
        using IDisposable _ = GradMode.NoGrad();
        foreach (Parameter p in parameters)
        {
            Tensor g = p.Grad!;
            if (g.DType != DType.Float32 || !g.IsContiguous)
            {
                p.Grad = Ops.Scale(g, factor);
                continue;
            }
            int n = checked((int)g.Numel);
            if (n == 0) continue;
            Dispatch.Run(g.Device,
                cpu: () => NormKernels.Scale.RunCpu(n, g.Ptr<float>(), factor),
                ilgpu: s => NormKernels.Scale.Launch(s, n, g.View<float>(), factor));
        }
    }
}
