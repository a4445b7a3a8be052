using MaMA.Engine.Tensors;

namespace MaMA.Engine;

public static partial class Ops
{
    /// <summary>
    /// fp32 contiguous forms of an op's operands for one computation (a backward widening its saved
    /// bf16 tensors, say), disposing on exit the ones that are copies.
    /// </summary>
    private sealed class TempScope : IDisposable
    {
        private readonly List<Tensor> _owned = [];

        /// <summary><paramref name="t"/> itself when it is fp32 and contiguous, else a copy owned by the scope.</summary>
        public Tensor F32(Tensor t)
        {
            Tensor f = Dispatch.F32(t);
            if (!ReferenceEquals(f, t)) _owned.Add(f);
            return f;
        }

        /// <summary>A temporary the scope disposes.</summary>
        public Tensor Own(Tensor t)
        {
            _owned.Add(t);
            return t;
        }

        public void Dispose()
        {
            foreach (Tensor t in _owned) t.Dispose();
        }
    }
}
