using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;

namespace MaMA.Generators.Models
{
    /// <summary>
    /// An immutable array compared by value, so pipeline models stay equal across runs and the
    /// incremental generator can skip unchanged kernels.
    /// </summary>
    internal readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IEnumerable<T>
        where T : IEquatable<T>
    {
        private readonly T[]? _items;

        public EquatableArray(ImmutableArray<T> items) => _items = items.IsDefault ? null : items.ToArray();

        public int Count => _items?.Length ?? 0;

        public T this[int index] => _items![index];

        public bool Equals(EquatableArray<T> other)
        {
            if (Count != other.Count) return false;
            for (int i = 0; i < Count; i++)
                if (!_items![i].Equals(other._items![i])) return false;
            return true;
        }

        public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

        public override int GetHashCode()
        {
            int hash = 17;
            if (_items is not null)
                foreach (T item in _items) hash = unchecked(hash * 31 + item.GetHashCode());
            return hash;
        }

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items ?? Array.Empty<T>())).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    internal static class EquatableArray
    {
        public static EquatableArray<T> From<T>(IEnumerable<T> items) where T : IEquatable<T> =>
            new EquatableArray<T>(ImmutableArray.CreateRange(items));
    }
}
