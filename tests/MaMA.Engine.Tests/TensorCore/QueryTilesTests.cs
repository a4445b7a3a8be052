using MaMA.Kernels.TensorCore;

namespace MaMA.Engine.Tests.TensorCore;

/// <summary>
/// The backward's query-tile order (<see cref="QueryTiles"/>) against the definition of a full tile,
/// by brute force over every pair of the tile: each tile with a visible pair is visited exactly
/// once, the first <see cref="QueryTiles.Full"/> are exactly the tiles that need no masking, and the
/// rest do.
/// </summary>
[TestFixture]
public sealed class QueryTilesTests
{
    private const int Block = TensorCoreAttentionBackward.BlockQ;

    [Test]
    public void Order_VisitsEveryTileOnce_FullOnesFirst()
    {
        int cases = 0, fullSeen = 0;
        foreach (int t in new[] { 1, 63, 64, 65, 127, 128, 130, 200, 256, 257, 320, 383 })
        {
            int keyTiles = (t + Block - 1) / Block;
            for (int keyTile = 0; keyTile < keyTiles; keyTile++)
            foreach (bool causal in new[] { false, true })
            foreach (bool mask in new[] { false, true })
            {
                bool keysFull = !mask && (keyTile + 1) * Block <= t;
                var order = QueryTiles.For(keyTile, t, causal, keysFull);
                int[] visited = Enumerable.Range(0, order.Count).Select(order.At).ToArray();
                int first = causal ? keyTile : 0, end = keyTiles;
                string where = $"T {t}, key tile {keyTile}, causal {causal}, mask {mask}: order {string.Join(",", visited)}";

                Assert.That(visited.OrderBy(x => x), Is.EqualTo(Enumerable.Range(first, end - first)), where);
                for (int j = 0; j < visited.Length; j++)
                    Assert.That(IsFull(visited[j], keyTile, t, causal, keysFull), Is.EqualTo(j < order.Full), $"{where}, position {j}");
                fullSeen += order.Full;
                cases++;
            }
        }
        Assert.That(cases, Is.EqualTo(4 * new[] { 1, 63, 64, 65, 127, 128, 130, 200, 256, 257, 320, 383 }.Sum(t => (t + Block - 1) / Block)));
        Assert.That(fullSeen, Is.GreaterThan(0), "some tiles are full");
    }

    [Test]
    public void Order_OfTheDocumentedExamples()
    {
        // Causal, T = 200, key tile 1: tiles 1 .. 3; 2 is full, 1 (the diagonal) and 3 (partial) are not.
        var causal = QueryTiles.For(1, 200, causal: true, keysFull: true);
        Assert.That(Enumerable.Range(0, causal.Count).Select(causal.At), Is.EqualTo(new[] { 2, 1, 3 }));
        Assert.That(causal.Full, Is.EqualTo(1));
        var plain = QueryTiles.For(2, 256, causal: false, keysFull: true);
        Assert.That(Enumerable.Range(0, plain.Count).Select(plain.At), Is.EqualTo(new[] { 0, 1, 2, 3 }));
        Assert.That(plain.Full, Is.EqualTo(4));
        var masked = QueryTiles.For(0, 256, causal: false, keysFull: false);
        Assert.That(Enumerable.Range(0, masked.Count).Select(masked.At), Is.EqualTo(new[] { 0, 1, 2, 3 }));
        Assert.That(masked.Full, Is.EqualTo(0));
    }

    /// <summary>The definition, pair by pair: every (key, query) of the tile is inside T and visible.</summary>
    private static bool IsFull(int queryTile, int keyTile, int t, bool causal, bool keysFull)
    {
        if (!keysFull) return false;
        for (int query = queryTile * Block; query < (queryTile + 1) * Block; query++)
        for (int key = keyTile * Block; key < (keyTile + 1) * Block; key++)
            if (query >= t || key >= t || (causal && key > query)) return false;
        return true;
    }
}
