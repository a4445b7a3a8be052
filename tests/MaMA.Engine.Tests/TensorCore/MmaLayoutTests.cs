using MaMA.Kernels.TensorCore;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The m16n8k16 fragment layout: every matrix element is held by exactly one (lane, element) pair
/// (a bijection), the inverse functions invert it, and the positions the PTX ISA states for
/// particular lanes come out (so the table is the ISA's, not merely self-consistent).
/// </summary>
[TestFixture]
public sealed class MmaLayoutTests
{
    private const int Lanes = MmaLayout.WarpSize;

    [Test]
    public void A_IsABijection_AndInvertible()
    {
        var seen = new HashSet<(int, int)>();
        for (int lane = 0; lane < Lanes; lane++)
            for (int i = 0; i < 8; i++)
            {
                int row = MmaLayout.ARow(lane, i), col = MmaLayout.ACol(lane, i);
                Assert.That(row, Is.InRange(0, 15));
                Assert.That(col, Is.InRange(0, 15));
                Assert.That(seen.Add((row, col)), Is.True, $"A({row},{col}) held twice");
                Assert.That((MmaLayout.ALane(row, col), MmaLayout.AElement(row, col)), Is.EqualTo((lane, i)));
            }
        Assert.That(seen, Has.Count.EqualTo(16 * 16));
    }

    [Test]
    public void B_IsABijection_AndInvertible()
    {
        var seen = new HashSet<(int, int)>();
        for (int lane = 0; lane < Lanes; lane++)
            for (int i = 0; i < 4; i++)
            {
                int k = MmaLayout.BRow(lane, i), n = MmaLayout.BCol(lane, i);
                Assert.That(k, Is.InRange(0, 15));
                Assert.That(n, Is.InRange(0, 7));
                Assert.That(seen.Add((k, n)), Is.True, $"B({k},{n}) held twice");
                Assert.That((MmaLayout.BLane(k, n), MmaLayout.BElement(k, n)), Is.EqualTo((lane, i)));
            }
        Assert.That(seen, Has.Count.EqualTo(16 * 8));
    }

    [Test]
    public void C_IsABijection_AndInvertible()
    {
        var seen = new HashSet<(int, int)>();
        for (int lane = 0; lane < Lanes; lane++)
            for (int i = 0; i < 4; i++)
            {
                int row = MmaLayout.CRow(lane, i), col = MmaLayout.CCol(lane, i);
                Assert.That(row, Is.InRange(0, 15));
                Assert.That(col, Is.InRange(0, 7));
                Assert.That(seen.Add((row, col)), Is.True, $"C({row},{col}) held twice");
                Assert.That((MmaLayout.CLane(row, col), MmaLayout.CElement(row, col)), Is.EqualTo((lane, i)));
            }
        Assert.That(seen, Has.Count.EqualTo(16 * 8));
    }

    /// <summary>Entries read off the ISA's figures for m16n8k16 (.bf16 A/B, .f32 C/D).</summary>
    [TestCase(0, 0, 0, 0)]   // T0: a0 at (0, 0)
    [TestCase(0, 1, 0, 1)]   // T0: a1 at (0, 1)
    [TestCase(0, 2, 8, 0)]   // T0: a2 at (8, 0)
    [TestCase(0, 4, 0, 8)]   // T0: a4 at (0, 8)
    [TestCase(0, 7, 8, 9)]   // T0: a7 at (8, 9)
    [TestCase(5, 0, 1, 2)]   // T5: groupID 1, threadID_in_group 1
    [TestCase(31, 6, 15, 14)] // T31: a6 at (15, 14)
    public void A_MatchesIsaFigure(int lane, int element, int row, int col)
    {
        Assert.That(MmaLayout.ARow(lane, element), Is.EqualTo(row));
        Assert.That(MmaLayout.ACol(lane, element), Is.EqualTo(col));
    }

    [TestCase(0, 0, 0, 0)]   // T0: b0 at (k 0, n 0)
    [TestCase(0, 2, 8, 0)]   // T0: b2 at (k 8, n 0)
    [TestCase(6, 1, 5, 1)]   // T6: b1 at (k 5, n 1)
    [TestCase(31, 3, 15, 7)] // T31: b3 at (k 15, n 7)
    public void B_MatchesIsaFigure(int lane, int element, int k, int n)
    {
        Assert.That(MmaLayout.BRow(lane, element), Is.EqualTo(k));
        Assert.That(MmaLayout.BCol(lane, element), Is.EqualTo(n));
    }

    [TestCase(0, 0, 0, 0)]   // T0: c0 at (0, 0)
    [TestCase(1, 1, 0, 3)]   // T1: c1 at (0, 3)
    [TestCase(4, 2, 9, 0)]   // T4: c2 at (9, 0)
    [TestCase(31, 3, 15, 7)] // T31: c3 at (15, 7)
    public void C_MatchesIsaFigure(int lane, int element, int row, int col)
    {
        Assert.That(MmaLayout.CRow(lane, element), Is.EqualTo(row));
        Assert.That(MmaLayout.CCol(lane, element), Is.EqualTo(col));
    }

    [Test]
    public void Bf16_PacksLowerElementInLowHalf_AndRoundsToNearestEven()
    {
        uint pair = Bf16.Pack(Bf16.FromFloat(1f), Bf16.FromFloat(-2f));
        Assert.That(Bf16.Low(pair), Is.EqualTo(1f));
        Assert.That(Bf16.High(pair), Is.EqualTo(-2f));
        Assert.That(Bf16.Round(1f + 1f / 256f), Is.EqualTo(1f));              // tie -> even (mantissa 0)
        Assert.That(Bf16.Round(1f + 3f / 256f), Is.EqualTo(1f + 4f / 256f));  // tie -> even (up)
        Assert.That(float.IsNaN(Bf16.ToFloat(Bf16.FromFloat(float.NaN))), Is.True);
    }
}
