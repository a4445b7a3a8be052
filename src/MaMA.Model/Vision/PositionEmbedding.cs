using MaMA.Engine;
using MaMA.Engine.Autograd;
using MaMA.Engine.Nn;
using MaMA.Engine.Tensors;

namespace MaMA.Model.Vision;

/// <summary>
/// The position table for a patch grid, as DINOv2's interpolate_pos_encoding with MaMA's settings
/// (interpolate_antialias = True, interpolate_offset = 0.0). <c>pos_embed</c> [1, 1 + M*M, C] holds
/// the cls entry then an M x M grid (M = 37 for 518 px). At the trained grid the table is used as
/// is; for any other gh x gw grid (non-square included) the M x M part is resampled bicubically
/// with antialias to exactly gh x gw (F.interpolate(size = (gh, gw)), align_corners False) and the
/// cls entry is kept. Resampling is linear in the table, so gradients flow back to pos_embed.
/// <para>
/// When no gradient would be recorded for the table (evaluation under GradMode.NoGrad, or a frozen
/// table) the resampled table is cached per grid. The cache remembers the table's values it was
/// built from and is dropped when they change (a loaded checkpoint, an optimizer step), so it
/// never serves a stale table; the check is one host copy of the table per call.
/// </para>
/// </summary>
public sealed class PositionEmbedding
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(int H, int W), Tensor> _cache = [];
    private byte[]? _cachedFrom;

    /// <param name="table">pos_embed [1, 1 + grid^2, C].</param>
    /// <param name="grid">M, the side of the grid the table was trained for.</param>
    public PositionEmbedding(Parameter table, int grid)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Rank != 3 || table.Shape[0] != 1 || table.Shape[1] != 1 + grid * grid)
            throw new ArgumentException($"pos_embed must be [1, 1 + {grid}^2, C], got {Shape.Format(table.Shape)}.", nameof(table));
        Table = table;
        Grid = grid;
    }

    /// <summary>pos_embed [1, 1 + M*M, C].</summary>
    public Parameter Table { get; }

    /// <summary>M.</summary>
    public int Grid { get; }

    /// <summary>Number of resampled tables currently cached (for tests and diagnostics).</summary>
    public int CachedGrids
    {
        get { lock (_lock) return _cache.Count; }
    }

    /// <summary>The table for a gridH x gridW patch grid: [1, 1 + gridH*gridW, C] (cls entry first).</summary>
    public Tensor For(int gridH, int gridW)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(gridH, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(gridW, 1);
        if (gridH == Grid && gridW == Grid) return Table;
        if (GradMode.ShouldRecord(Table)) return Interpolate(gridH, gridW);
        lock (_lock)
        {
            byte[] now = Table.ToBytes();
            if (_cachedFrom is null || !now.AsSpan().SequenceEqual(_cachedFrom)) Clear(now);
            if (!_cache.TryGetValue((gridH, gridW), out Tensor? table))
            {
                using (GradMode.NoGrad()) table = Interpolate(gridH, gridW);
                _cache[(gridH, gridW)] = table;
            }
            return table;
        }
    }

    /// <summary>Drops every cached table.</summary>
    public void ClearCache()
    {
        lock (_lock) Clear(null);
    }

    /// <summary>
    /// Forgets the cached tables without disposing them: a forward on another thread may still
    /// hold one; the allocator takes their memory back when they are collected.
    /// </summary>
    private void Clear(byte[]? source)
    {
        _cache.Clear();
        _cachedFrom = source;
    }

    /// <summary>[cls, resize(grid)]: [1, 1, C] and [1, C, M, M] -> [1, C, gh, gw] -> [1, gh*gw, C], joined to [1, 1 + gh*gw, C].</summary>
    private Tensor Interpolate(int gridH, int gridW)
    {
        int c = Table.Shape[2], m = Grid;
        Tensor cls = Table.Narrow(1, 0, 1);                                                // [1, 1, C]
        Tensor grid = Table.Narrow(1, 1, m * m).Reshape(1, m, m, c).Permute(0, 3, 1, 2);  // [1, C, M, M]
        Tensor resized = Ops.ResizeBicubic(grid, gridH, gridW, antialias: true);           // [1, C, gh, gw]
        Tensor patches = resized.Permute(0, 2, 3, 1).Reshape(1, gridH * gridW, c);        // [1, gh*gw, C]
        return Ops.Concat([cls, patches], axis: 1);
    }
}
