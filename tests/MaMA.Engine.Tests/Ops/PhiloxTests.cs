using MaMA.Kernels.Random;

namespace MaMA.Engine.Tests.Ops;

/// <summary>Philox-4x32-10 against the Random123 known-answer vectors (kat_vectors, philox4x32 10 rounds).</summary>
[TestFixture]
public sealed class PhiloxTests
{
    [TestCase(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
        0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u, TestName = "Philox4x32_10 KAT zeros")]
    [TestCase(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
        0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu, TestName = "Philox4x32_10 KAT ones")]
    [TestCase(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
        0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u, TestName = "Philox4x32_10 KAT pi")]
    public void MatchesKnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        UInt4 r = Philox.Block(c0, c1, c2, c3, k0, k1);
        Assert.That(r.ToString(), Is.EqualTo(new UInt4(e0, e1, e2, e3).ToString()));
    }

    [Test]
    public void UniformIsInUnitInterval()
    {
        Assert.That(Philox.ToUniform(0u), Is.EqualTo(0f));
        Assert.That(Philox.ToUniform(uint.MaxValue), Is.LessThan(1f));
        Assert.That(Philox.ToUniform(0x80000000u), Is.EqualTo(0.5f));
    }
}
