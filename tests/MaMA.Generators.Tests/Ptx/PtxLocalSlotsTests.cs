using MaMA.Kernels.TensorCore;

namespace MaMA.Generators.Tests.Ptx;

/// <summary>
/// The PTX rewrite that moves ILGPU's one-value local slots into registers, on small modules written
/// the way ILGPU writes them: which depots it promotes, which it must keep, and the exact text.
/// </summary>
[TestFixture]
public sealed class PtxLocalSlotsTests
{
    private const string Header = ".version 7.1\n.target sm_80\n.address_size 64\n\n.visible .entry Kernel_K(\n\t.param .align 8 .b8 _a[16]\n)\n{\n";

    private static string Module(string depots, string body) =>
        Header + depots + "\n\t.reg .pred\t%p<2>;\n\t.reg .b32\t%r<9>;\n\t.reg .b64\t%rd<40>;\n\t.reg .f32\t%f<9>;\n\n" + body + "\tret;\n}\n";

    [Test]
    public void ScalarSlots_BecomeRegisters_InTheSameOrder()
    {
        string ptx = Module(
            "\t.local .align 4 .b8 __local_depot0[4];\n\t.local .align 4 .b8 __local_depot1[4];\n\t.local .align 8 .b8 __local_depot2[8];\n",
            "\tmov.b64\t%rd21, __local_depot0;\n\tmov.b64\t%rd22, __local_depot1;\n\tmov.b64\t%rd23, __local_depot2;\n" +
            "\tst.local.f32\t[%rd21], 0f00000000;\n\tst.local.b32\t[%rd22], %r1;\n\tst.local.b64\t[%rd23], %rd5;\n" +
            "\tld.local.f32\t%f1, [%rd21];\n\tld.local.b32\t%r2, [%rd22];\n\tld.local.b64\t%rd6, [%rd23];\n" +
            "\tmma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%f2,%f3,%f4,%f5}, {%r2,%r2,%r2,%r2}, {%r2,%r2}, {%f1,%f1,%f1,%f1};\n" +
            "\tst.local.f32\t[%rd21], %f2;\n\tld.local.f32\t%f6, [%rd21];\n");

        PtxLocalSlots.Result result = PtxLocalSlots.Promote(ptx);

        Assert.That((result.Promoted, result.Kept), Is.EqualTo((3, 0)));
        string expected = Module("",
            "\tmov.f32\t%lps0, 0f00000000;\n\tmov.b32\t%lps1, %r1;\n\tmov.b64\t%lps2, %rd5;\n" +
            "\tmov.f32\t%f1, %lps0;\n\tmov.b32\t%r2, %lps1;\n\tmov.b64\t%rd6, %lps2;\n" +
            "\tmma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%f2,%f3,%f4,%f5}, {%r2,%r2,%r2,%r2}, {%r2,%r2}, {%f1,%f1,%f1,%f1};\n" +
            "\tmov.f32\t%lps0, %f2;\n\tmov.f32\t%f6, %lps0;\n")
            .Replace("\n\t.reg .pred", "\n\t.reg .f32\t%lps0;\n\t.reg .b32\t%lps1;\n\t.reg .b64\t%lps2;\n\t.reg .pred", StringComparison.Ordinal);
        Assert.That(result.Ptx, Is.EqualTo(expected));
    }

    [Test]
    public void SlotsUsedOtherwise_AreKept()
    {
        // depot0: address arithmetic (an array); depot1: two access types; depot2: its address stored;
        // depot3: a 4-byte slot read as 8 bytes. Only depot4 is a plain scalar slot.
        string ptx = Module(
            "\t.local .align 4 .b8 __local_depot0[8];\n\t.local .align 4 .b8 __local_depot1[4];\n\t.local .align 4 .b8 __local_depot2[4];\n" +
            "\t.local .align 4 .b8 __local_depot3[4];\n\t.local .align 4 .b8 __local_depot4[4];\n",
            "\tmov.b64\t%rd10, __local_depot0;\n\tmov.b64\t%rd11, __local_depot1;\n\tmov.b64\t%rd12, __local_depot2;\n" +
            "\tmov.b64\t%rd13, __local_depot3;\n\tmov.b64\t%rd14, __local_depot4;\n" +
            "\tadd.s64\t%rd15, %rd10, 4;\n\tst.local.f32\t[%rd15], %f1;\n\tst.local.f32\t[%rd10], %f1;\n" +
            "\tst.local.f32\t[%rd11], %f1;\n\tld.local.b32\t%r1, [%rd11];\n" +
            "\tst.local.b64\t[%rd12], %rd12;\n" +
            "\tld.local.b64\t%rd16, [%rd13];\n" +
            "\tst.local.b32\t[%rd14], %r3;\n\tld.local.b32\t%r4, [%rd14];\n");

        PtxLocalSlots.Result result = PtxLocalSlots.Promote(ptx);

        Assert.That((result.Promoted, result.Kept), Is.EqualTo((1, 4)));
        foreach (int kept in new[] { 0, 1, 2, 3 })
            Assert.That(result.Ptx, Does.Contain($"__local_depot{kept};"), $"depot{kept}");
        Assert.That(result.Ptx, Does.Not.Contain("__local_depot4"));
        Assert.That(result.Ptx, Does.Contain("\tmov.b32\t%lps0, %r3;\n\tmov.b32\t%r4, %lps0;\n"));
        Assert.That(result.Ptx, Does.Contain("\tadd.s64\t%rd15, %rd10, 4;\n\tst.local.f32\t[%rd15], %f1;"));
    }

    /// <summary>
    /// A function ILGPU did not inline sits before the entry, with its own registers: each body gets
    /// its own declarations (once they all went to the module's first <c>.reg</c>, inside the
    /// <c>.func</c>, which ptxas refused), and the same register name in two functions is two slots.
    /// </summary>
    [Test]
    public void EveryFunction_GetsItsOwnDeclarations()
    {
        const string func = ".visible .func Helper(\n\t.param .b32 _x\n)\n{\n" +
            "\t.local .align 4 .b8 __local_depot0[4];\n\t.reg .b32\t%r<4>;\n\t.reg .b64\t%rd<30>;\n" +
            "\tmov.b64\t%rd21, __local_depot0;\n\tst.local.b32\t[%rd21], %r1;\n\tld.local.b32\t%r2, [%rd21];\n\tret;\n}\n";
        string entry = Module("\t.local .align 4 .b8 __local_depot1[4];\n",
            "\tmov.b64\t%rd21, __local_depot1;\n\tst.local.f32\t[%rd21], %f1;\n\tld.local.f32\t%f2, [%rd21];\n");
        string ptx = entry.Insert(Header.IndexOf(".visible .entry", StringComparison.Ordinal), func);

        PtxLocalSlots.Result result = PtxLocalSlots.Promote(ptx);

        Assert.That((result.Promoted, result.Kept), Is.EqualTo((2, 0)));
        string helper = result.Ptx[..result.Ptx.IndexOf(".visible .entry", StringComparison.Ordinal)];
        string kernel = result.Ptx[helper.Length..];
        Assert.That(helper, Does.Contain("{\n\t.reg .b32\t%lps0;\n\t.reg .b32\t%r<4>;"));
        Assert.That(helper, Does.Contain("\tmov.b32\t%lps0, %r1;\n\tmov.b32\t%r2, %lps0;\n"));
        Assert.That(kernel, Does.Contain("\t.reg .f32\t%lps0;\n\t.reg .pred"));
        Assert.That(kernel, Does.Contain("\tmov.f32\t%lps0, %f1;\n\tmov.f32\t%f2, %lps0;\n"));
        Assert.That(result.Ptx, Does.Not.Contain("local"));
    }

    [Test]
    public void ModuleWithoutSlots_IsUnchanged()
    {
        string ptx = Module("", "\tadd.s32\t%r1, %r2, %r3;\n");
        Assert.That(PtxLocalSlots.Promote(ptx), Is.EqualTo(new PtxLocalSlots.Result(ptx, 0, 0)));
    }
}
