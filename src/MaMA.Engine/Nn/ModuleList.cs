namespace MaMA.Engine.Nn;

/// <summary>Children named "0", "1", ... (torch.nn.ModuleList), giving keys like "blocks.3.mlp.fc1.weight".</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = [];

    public ModuleList()
    {
    }

    public ModuleList(IEnumerable<T> modules)
    {
        foreach (T m in modules) Add(m);
    }

    public void Add(T module) => _items.Add(RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module));

    public T this[int index] => _items[index];

    public int Count => _items.Count;

    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
