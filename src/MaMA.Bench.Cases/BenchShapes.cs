namespace MaMA.Bench.Cases;

/// <summary>Which sizes the family cases take.</summary>
public enum BenchShapes
{
    /// <summary>MaMA's real shapes (the paper's encoders and micro-batch).</summary>
    Paper,

    /// <summary>Tiny shapes of the same cases, for tests and CI (seconds, also on ilgpu-cpu).</summary>
    Quick,
}

public static class BenchShapesNames
{
    /// <summary>The option value: "paper" or "quick".</summary>
    public static string ToOption(this BenchShapes shapes) => shapes == BenchShapes.Quick ? "quick" : "paper";
}
