using System.Globalization;
using System.Text.Json.Nodes;
using MaMA.Engine.Losses;
using MaMA.Engine.Tensors;

namespace MaMA.Bench.Cases;

/// <summary>
/// NT-Xent (inter-view contrast) over unnormalised head outputs z0, z1 [N, E]. FLOPs: forward the
/// three distinct similarity blocks z0 z1^T, z0 z0^T, z1 z1^T, 6 N^2 E; backward
/// dz0 = G_A z0 + G_X z1 and dz1 = G_Z z1 + G_X^T z0, 8 N^2 E (the normalisation is elementwise).
/// </summary>
public sealed record NtXentCase(int Pairs, int Embed, float Temperature) : BenchCase
{
    public override string Name => $"ntxent_loss N{Pairs} E{Embed} tau{Temperature.ToString(CultureInfo.InvariantCulture)}";

    public override string Family => "ntxent_loss";

    public override BenchInput[] Inputs => [new("z0", [Pairs, Embed]), new("z1", [Pairs, Embed])];

    public override long ForwardFlops => 6L * Pairs * Pairs * Embed;

    public override long ForwardBackwardFlops => 14L * Pairs * Pairs * Embed;

    public override Tensor Engine(Tensor[] x) => Losses.InterViewContrast(x[0], x[1], Temperature);

    protected override JsonObject Parameters() => new() { ["pairs"] = Pairs, ["embed"] = Embed, ["temperature"] = Temperature };
}
