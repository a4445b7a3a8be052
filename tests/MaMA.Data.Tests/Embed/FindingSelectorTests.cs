using MaMA.Data.Embed;

namespace MaMA.Data.Tests.Embed;

[TestFixture]
public sealed class FindingSelectorTests
{
    private static int Pick(string sides, string asses, string? laterality, FindingRowIndexing indexing = FindingRowIndexing.Reference) =>
        FindingSelector.Select(sides.Split(' '), asses.Split(' ').Select(a => a == "_" ? "" : a).ToArray(), laterality, indexing);

    [Test]
    public void SideMatchThenBilateralThenAll()
    {
        Assert.That(Pick("L R B", "N N N", "R"), Is.EqualTo(1), "the row of the image's side");
        Assert.That(Pick("L B L", "N S K", "L"), Is.EqualTo(2), "the highest BI-RADS among the side's rows");
        Assert.That(Pick("R B L", "N S N", "L"), Is.EqualTo(2), "B rows are ignored when the side matches");
        Assert.That(Pick("R B B", "K N B", "L"), Is.EqualTo(2), "no L row: B rows, highest");
        Assert.That(Pick("R R", "N S", "L"), Is.EqualTo(1), "no L and no B row: all rows, highest");
        Assert.That(Pick("L R", "S N", ""), Is.EqualTo(0), "a missing laterality matches nothing: all rows");
        Assert.That(Pick("_ _", "N S", ""), Is.EqualTo(1), "an empty side does not match an empty laterality");
        Assert.That(FindingSelector.Select([], [], "L"), Is.EqualTo(-1));
    }

    [Test]
    public void ScreeningGroupPrefersZero()
    {
        // max <= 2 and min == 0: first arg-min (the BI-RADS 0 "additional imaging" row).
        Assert.That(Pick("L L L", "N A B", "L"), Is.EqualTo(1));
        Assert.That(Pick("L L L", "B A A", "L"), Is.EqualTo(1), "the first of equal minima");
        // max > 2: first arg-max even when a 0 is present.
        Assert.That(Pick("L L L", "A P N", "L"), Is.EqualTo(1));
        Assert.That(Pick("L L L L", "N M B M", "L"), Is.EqualTo(1), "the first of equal maxima");
        // min > 0: first arg-max.
        Assert.That(Pick("L L L", "N B N", "L"), Is.EqualTo(1));
        Assert.That(Pick("L L", "N N", "L"), Is.EqualTo(0));
    }

    [Test]
    public void NoValidAssessmentTakesTheFirstRow()
    {
        Assert.That(Pick("L L", "X _", "L"), Is.EqualTo(0));
        Assert.That(Pick("R L L", "N X _", "L"), Is.EqualTo(1));
    }

    [Test]
    public void InvalidRowsReferenceVersusValidRowsOnly()
    {
        // Rows: invalid, N, S. BI-RADS among valid rows [1, 4]; arg-max position 1 among them.
        // Reference applies position 1 to all rows (the N row); ValidRowsOnly picks the S row.
        Assert.That(Pick("L L L", "X N S", "L", FindingRowIndexing.Reference), Is.EqualTo(1));
        Assert.That(Pick("L L L", "X N S", "L", FindingRowIndexing.ValidRowsOnly), Is.EqualTo(2));
        // With every row valid the two agree.
        Assert.That(Pick("L L L", "B N S", "L", FindingRowIndexing.Reference), Is.EqualTo(2));
        Assert.That(Pick("L L L", "B N S", "L", FindingRowIndexing.ValidRowsOnly), Is.EqualTo(2));
    }
}
