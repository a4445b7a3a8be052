namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Which lane of a warp holds which element of the <c>mma.sync.aligned.m16n8k16</c> fragments
/// (bf16 A and B, fp32 C/D), as the PTX ISA defines them ("Matrix Fragments for mma.m16n8k16 with
/// floating point type"). With groupID g = lane &gt;&gt; 2 and threadID_in_group t = lane % 4:
/// <code>
/// A 16x16 (row-major), 8 bf16 per lane in 4 .b32 registers, element i = 0..7:
///     row = g + 8 * ((i &gt;&gt; 1) &amp; 1)      col = 2t + (i &amp; 1) + 8 * (i &gt;&gt; 2)
///     reg0 = {a0,a1}: (g, 2t..2t+1)   reg1 = {a2,a3}: (g+8, 2t..)   reg2: (g, 2t+8..)   reg3: (g+8, 2t+8..)
/// B 16x8 (column-major, i.e. stored n-major with k contiguous), 4 bf16 in 2 .b32 registers, i = 0..3:
///     k = 2t + (i &amp; 1) + 8 * (i &gt;&gt; 1)   n = g
/// C, D 16x8 fp32, 4 floats, i = 0..3:
///     row = g + 8 * (i &gt;&gt; 1)            col = 2t + (i &amp; 1)
/// </code>
/// A packed .b32 register holds the lower-numbered element in its low 16 bits. Every element of
/// each matrix is held by exactly one (lane, i) pair: 32 x 8 = 256 = 16 x 16 for A, 32 x 4 = 128
/// = 16 x 8 for B and C (the tests check the bijection). Device code (the emulation) and host code
/// (tests, references) share these functions so the mapping is written down once.
/// </summary>
public static class MmaLayout
{
    /// <summary>Threads in a warp; the fragment layout is defined for exactly 32 lanes.</summary>
    public const int WarpSize = 32;

    /// <summary>Fragment tile shape: M x N output, K reduction.</summary>
    public const int M = 16, N = 8, K = 16;

    /// <summary>Row of A element <paramref name="i"/> (0..7) held by <paramref name="lane"/>.</summary>
    public static int ARow(int lane, int i) => (lane >> 2) + 8 * ((i >> 1) & 1);

    /// <summary>Column (k) of A element <paramref name="i"/> (0..7) held by <paramref name="lane"/>.</summary>
    public static int ACol(int lane, int i) => 2 * (lane & 3) + (i & 1) + 8 * (i >> 2);

    /// <summary>Row (k) of B element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    public static int BRow(int lane, int i) => 2 * (lane & 3) + (i & 1) + 8 * (i >> 1);

    /// <summary>Column (n) of B element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    public static int BCol(int lane, int i) => lane >> 2;

    /// <summary>Row of C/D element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    public static int CRow(int lane, int i) => (lane >> 2) + 8 * (i >> 1);

    /// <summary>Column of C/D element <paramref name="i"/> (0..3) held by <paramref name="lane"/>.</summary>
    public static int CCol(int lane, int i) => 2 * (lane & 3) + (i & 1);

    /// <summary>Lane holding A(<paramref name="row"/>, <paramref name="col"/>) (inverse of ARow/ACol).</summary>
    public static int ALane(int row, int col) => 4 * (row & 7) + ((col & 7) >> 1);

    /// <summary>Element index (0..7) of A(<paramref name="row"/>, <paramref name="col"/>) in its lane.</summary>
    public static int AElement(int row, int col) => (col & 1) + 2 * (row >> 3) + 4 * (col >> 3);

    /// <summary>Lane holding B(<paramref name="k"/>, <paramref name="n"/>).</summary>
    public static int BLane(int k, int n) => 4 * n + ((k & 7) >> 1);

    /// <summary>Element index (0..3) of B(<paramref name="k"/>, <paramref name="n"/>) in its lane.</summary>
    public static int BElement(int k, int n) => (k & 1) + 2 * (k >> 3);

    /// <summary>Lane holding C(<paramref name="row"/>, <paramref name="col"/>).</summary>
    public static int CLane(int row, int col) => 4 * (row & 7) + (col >> 1);

    /// <summary>Element index (0..3) of C(<paramref name="row"/>, <paramref name="col"/>) in its lane.</summary>
    public static int CElement(int row, int col) => (col & 1) + 2 * (row >> 3);
}
