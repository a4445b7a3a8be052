using MaMA.Engine.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using Device = MaMA.Engine.Devices.Device;
using EngineTensor = MaMA.Engine.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace MaMA.Interop.Torch.Parity;

/// <summary>
/// Runs one <see cref="OpCase"/> forward and backward, in the engine on a device or in libtorch.
/// Backward uses L = sum(output * upstream), so every input gradient is a vector-Jacobian product
/// with a random upstream gradient (drawn from <paramref name="seed"/> + 1).
/// </summary>
public static class ParityRunner
{
    public static float[] Upstream(int[] outputShape, int seed)
    {
        var rng = new Random(seed + 1);
        return Enumerable.Range(0, (int)Shape.Numel(outputShape)).Select(_ => OpData.Normal(rng)).ToArray();
    }

    public static OpResult RunEngine(OpCase c, OpData data, Device device, Func<int[], float[]> upstream)
    {
        var inputs = new EngineTensor[c.Inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = data.EngineInput(i, device);
            if (c.Inputs[i].Differentiable) inputs[i].RequiresGrad = true;
        }
        EngineTensor y = c.Engine(inputs);
        int[] shape = y.ShapeArray;
        var grads = new Dictionary<string, float[]>();
        if (y.RequiresGrad)
        {
            EngineTensor gy = EngineTensor.FromArray(upstream(shape), shape, device);
            y.Backward(gy);
            for (int i = 0; i < inputs.Length; i++)
                if (c.Inputs[i].Differentiable)
                    grads[c.Inputs[i].Name] = inputs[i].Grad?.ToFloatArray() ?? new float[inputs[i].Numel];
        }
        return new OpResult { OutputShape = shape, Output = y.ToFloatArray(), Grads = grads };
    }

    public static OpResult RunTorch(OpCase c, OpData data, Func<int[], float[]> upstream)
    {
        using var scope = torch.NewDisposeScope();
        var inputs = new TorchTensor[c.Inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = data.TorchInput(i);
            if (c.Inputs[i].Differentiable) inputs[i].requires_grad_(true);
        }
        TorchTensor y = c.Torch(inputs);
        int[] shape = y.shape.Select(d => (int)d).ToArray();
        var grads = new Dictionary<string, float[]>();
        if (c.Inputs.Any(i => i.Differentiable))
        {
            TorchTensor gy = tensor(upstream(shape), y.shape);
            y.backward([gy]);
            for (int i = 0; i < inputs.Length; i++)
                if (c.Inputs[i].Differentiable)
                    grads[c.Inputs[i].Name] = inputs[i].grad is { } g ? g.to(ScalarType.Float32).data<float>().ToArray() : new float[inputs[i].numel()];
        }
        return new OpResult { OutputShape = shape, Output = y.detach().to(ScalarType.Float32).contiguous().data<float>().ToArray(), Grads = grads };
    }
}
