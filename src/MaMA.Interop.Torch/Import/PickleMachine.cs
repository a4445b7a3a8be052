using System.Numerics;
using System.Text;

namespace MaMA.Interop.Torch.Import;

/// <summary>
/// A pickle (protocols 0-5) interpreter that never runs Python and never fails on a class it does
/// not know: unknown callables become <see cref="PickledObject"/>s. Dicts become
/// <c>OrderedDictionary&lt;object, object?&gt;</c> (key order kept, None keys as <see cref="PyNone"/>),
/// lists <c>List&lt;object?&gt;</c>, tuples <c>object?[]</c>, ints <c>long</c> (or
/// <see cref="BigInteger"/>), floats <c>double</c>, str <c>string</c>, bytes <c>byte[]</c>.
/// <para>
/// PyBridge's unpickler (Razorvine) is not used for reading because it throws on a REDUCE of any
/// class it has no constructor for (pathlib paths, numpy scalars, argparse.Namespace in Lightning
/// <c>hyper_parameters</c>), reads every tensor eagerly, and keeps only tensors inside OrderedDicts.
/// </para>
/// </summary>
public sealed class PickleMachine(byte[] data, string source, Func<object?, object?>? persistentLoad = null,
                                  Func<PyGlobal, object?[], object?>? reduce = null)
{
    /// <summary>Python's None as a dict key (dictionary keys cannot be null).</summary>
    public sealed class PyNone
    {
        public static readonly PyNone Value = new();

        private PyNone() { }

        public override string ToString() => "None";
    }

    private static readonly object Mark = new();
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];
    private int _pos;

    /// <summary>Runs the program to STOP and returns the result.</summary>
    public object? Load()
    {
        try
        {
            while (true)
            {
                byte op = U8();
                if (op == (byte)'.') return Pop();
                Step(op);
            }
        }
        // A damaged program shows up as whatever the failing opcode or callback met: an empty stack,
        // a wrong type, a missing memo key, bad number text (Format/Overflow), an APPEND onto None
        // (NullReference). All of them mean the same thing to the user.
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException or InvalidCastException or KeyNotFoundException
                                      or FormatException or OverflowException or NullReferenceException)
        {
            throw new InvalidDataException($"{source}: the pickle is damaged or truncated near byte {_pos} ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    private void Step(byte op)
    {
        switch (op)
        {
            case 0x80: U8(); break;                                 // PROTO
            case 0x95: Bytes(8); break;                             // FRAME (length only; we hold the whole pickle)
            case (byte)'(': _marks.Add(_stack.Count); break;        // MARK
            case (byte)'0': Pop(); break;                           // POP
            case (byte)'1': PopMark(); break;                       // POP_MARK
            case (byte)'2': Push(_stack[^1]); break;                // DUP
            case (byte)'N': Push(null); break;
            case 0x88: Push(true); break;                           // NEWTRUE
            case 0x89: Push(false); break;                          // NEWFALSE
            case (byte)'J': Push((long)BitConverter.ToInt32(Bytes(4))); break;   // BININT
            case (byte)'K': Push((long)U8()); break;                // BININT1
            case (byte)'M': Push((long)BitConverter.ToUInt16(Bytes(2))); break;  // BININT2
            case 0x8a: Push(Long(Bytes(U8()))); break;              // LONG1
            case 0x8b: Push(Long(Bytes(BitConverter.ToInt32(Bytes(4))))); break; // LONG4
            case (byte)'I': Push(ParseInt(Line())); break;          // INT (also 01/00 for bools)
            case (byte)'L': Push(Long(Line().TrimEnd('L'))); break; // LONG (text)
            case (byte)'G':                                         // BINFLOAT, big-endian
                {
                    byte[] b = Bytes(8).ToArray();
                    Array.Reverse(b);
                    Push(BitConverter.ToDouble(b));
                    break;
                }
            case (byte)'F': Push(double.Parse(Line(), System.Globalization.CultureInfo.InvariantCulture)); break;
            case (byte)'X': Push(Utf8(BitConverter.ToUInt32(Bytes(4)))); break;  // BINUNICODE
            case 0x8c: Push(Utf8(U8())); break;                     // SHORT_BINUNICODE
            case 0x8d: Push(Utf8(checked((long)BitConverter.ToUInt64(Bytes(8))))); break; // BINUNICODE8
            case (byte)'V': Push(Line()); break;                    // UNICODE (raw-unicode-escape; ASCII in practice)
            case (byte)'T': Push(Latin1(BitConverter.ToInt32(Bytes(4)))); break; // BINSTRING
            case (byte)'U': Push(Latin1(U8())); break;              // SHORT_BINSTRING
            case (byte)'S': Push(Line().Trim('\'', '"')); break;    // STRING
            case (byte)'B': Push(Bytes(BitConverter.ToInt32(Bytes(4))).ToArray()); break;   // BINBYTES
            case (byte)'C': Push(Bytes(U8()).ToArray()); break;     // SHORT_BINBYTES
            case 0x8e: case 0x96: Push(Bytes(checked((int)BitConverter.ToUInt64(Bytes(8)))).ToArray()); break; // BINBYTES8, BYTEARRAY8
            case (byte)']': Push(new List<object?>()); break;       // EMPTY_LIST
            case (byte)'l': Push(PopMark().ToList()); break;        // LIST
            case (byte)'a': { object? v = Pop(); ((List<object?>)_stack[^1]!).Add(v); break; } // APPEND
            case (byte)'e': { object?[] items = PopMark(); ((List<object?>)_stack[^1]!).AddRange(items); break; } // APPENDS
            case 0x8f: Push(new List<object?>()); break;            // EMPTY_SET (sets read as lists)
            case 0x90: { object?[] items = PopMark(); ((List<object?>)_stack[^1]!).AddRange(items); break; } // ADDITEMS
            case 0x91: Push(PopMark().ToList()); break;             // FROZENSET
            case (byte)')': Push(Array.Empty<object?>()); break;    // EMPTY_TUPLE
            case (byte)'t': Push(PopMark()); break;                 // TUPLE
            case 0x85: Push(new[] { Pop() }); break;                // TUPLE1
            case 0x86: { object? b = Pop(), a = Pop(); Push(new[] { a, b }); break; }
            case 0x87: { object? c = Pop(), b = Pop(), a = Pop(); Push(new[] { a, b, c }); break; }
            case (byte)'}': Push(NewDict()); break;                 // EMPTY_DICT
            case (byte)'d':                                         // DICT
                {
                    var d = NewDict();
                    SetItems(d, PopMark());
                    Push(d);
                    break;
                }
            case (byte)'s': { object? v = Pop(), k = Pop(); SetItems(_stack[^1], [k, v]); break; } // SETITEM
            case (byte)'u': { object?[] kv = PopMark(); SetItems(_stack[^1], kv); break; }        // SETITEMS
            case (byte)'p': _memo[long.Parse(Line())] = _stack[^1]; break;                        // PUT
            case (byte)'q': _memo[U8()] = _stack[^1]; break;                                      // BINPUT
            case (byte)'r': _memo[BitConverter.ToUInt32(Bytes(4))] = _stack[^1]; break;           // LONG_BINPUT
            case 0x94: _memo[_memo.Count] = _stack[^1]; break;                                    // MEMOIZE
            case (byte)'g': Push(_memo[long.Parse(Line())]); break;                               // GET
            case (byte)'h': Push(_memo[U8()]); break;                                             // BINGET
            case (byte)'j': Push(_memo[BitConverter.ToUInt32(Bytes(4))]); break;                  // LONG_BINGET
            case (byte)'c': { string module = Line(); Push(new PyGlobal(module, Line())); break; } // GLOBAL
            case 0x93: { string name = (string)Pop()!; Push(new PyGlobal((string)Pop()!, name)); break; } // STACK_GLOBAL
            case (byte)'R': { object?[] args = (object?[])Pop()!; Push(Call(Pop(), args)); break; }          // REDUCE
            case 0x81: { object?[] args = (object?[])Pop()!; Push(Call(Pop(), args)); break; }              // NEWOBJ
            case 0x92: { Pop(); object?[] args = (object?[])Pop()!; Push(Call(Pop(), args)); break; }       // NEWOBJ_EX (kwargs dropped)
            case (byte)'i': { string module = Line(); string name = Line(); Push(Call(new PyGlobal(module, name), PopMark())); break; } // INST
            case (byte)'o': { object?[] items = PopMark(); Push(Call(items[0], items[1..])); break; }     // OBJ
            case (byte)'b': { object? state = Pop(); if (_stack[^1] is PickledObject o) o.State = state; break; } // BUILD
            case (byte)'Q': Push(Persistent(Pop())); break;         // BINPERSID
            case (byte)'P': Push(Persistent(Line())); break;        // PERSID
            case 0x82: U8(); Push(new PyGlobal("copyreg", "extension")); break;     // EXT1..4: extension registry, unused by torch
            case 0x83: Bytes(2); Push(new PyGlobal("copyreg", "extension")); break;
            case 0x84: Bytes(4); Push(new PyGlobal("copyreg", "extension")); break;
            case 0x97: case 0x98: throw new InvalidDataException($"{source}: out-of-band pickle buffers (protocol 5) are not supported.");
            default: throw new InvalidDataException($"{source}: unknown pickle opcode 0x{op:x2} at byte {_pos - 1}; the file is damaged or not a PyTorch checkpoint.");
        }
    }

    private object? Persistent(object? pid) =>
        persistentLoad is null ? throw new InvalidDataException($"{source}: persistent id in a pickle that has no external storage.") : persistentLoad(pid);

    private object? Call(object? callable, object?[] args)
    {
        if (callable is not PyGlobal g) return new PickledObject(new PyGlobal("?", callable?.ToString() ?? "None"), args);
        if (reduce?.Invoke(g, args) is { } special) return special;
        if (g is { Module: "collections", Name: "OrderedDict" } or { Module: "builtins" or "__builtin__", Name: "dict" })
        {
            var d = NewDict();
            if (args is [List<object?> pairs])
                foreach (object? p in pairs)
                    if (p is object?[] { Length: 2 } kv) SetItems(d, kv);
            return d;
        }
        if (g is { Module: "builtins" or "__builtin__", Name: "set" or "frozenset" or "list" or "tuple" })
            return args is [List<object?> items] ? items : new List<object?>();
        return new PickledObject(g, args);
    }

    private static OrderedDictionary<object, object?> NewDict() => new();

    private void SetItems(object? target, object?[] kv)
    {
        if (target is OrderedDictionary<object, object?> d)
        {
            for (int i = 0; i + 1 < kv.Length; i += 2) d[kv[i] ?? PyNone.Value] = kv[i + 1];
        }
        else if (target is PickledObject o)
        {
            // SETITEMS on an object built by REDUCE (a dict subclass such as Lightning's AttributeDict):
            // keep the items as its state so nothing is lost.
            var items = o.State as OrderedDictionary<object, object?> ?? NewDict();
            for (int i = 0; i + 1 < kv.Length; i += 2) items[kv[i] ?? PyNone.Value] = kv[i + 1];
            o.State = items;
        }
        else throw new InvalidDataException($"{source}: SETITEM on a {target?.GetType().Name ?? "None"} near byte {_pos}.");
    }

    private void Push(object? o) => _stack.Add(o);

    private object? Pop()
    {
        object? o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object?[] PopMark()
    {
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        object?[] items = _stack.GetRange(m, _stack.Count - m).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private byte U8() => _pos < data.Length ? data[_pos++] : throw Truncated();

    private ReadOnlySpan<byte> Bytes(long n)
    {
        if (n < 0 || _pos + n > data.Length) throw Truncated();
        var span = new ReadOnlySpan<byte>(data, _pos, (int)n);
        _pos += (int)n;
        return span;
    }

    private string Utf8(long n) => Encoding.UTF8.GetString(Bytes(n));

    private string Latin1(long n) => Encoding.Latin1.GetString(Bytes(n));

    private string Line()
    {
        int end = Array.IndexOf(data, (byte)'\n', _pos);
        if (end < 0) throw Truncated();
        string s = Encoding.UTF8.GetString(data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private static object ParseInt(string s) => s switch
    {
        "01" => true,
        "00" => false,
        _ => Long(s),
    };

    private static object Long(string s)
    {
        BigInteger b = BigInteger.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        return b >= long.MinValue && b <= long.MaxValue ? (long)b : b;
    }

    private static object Long(ReadOnlySpan<byte> littleEndianTwosComplement)
    {
        var b = new BigInteger(littleEndianTwosComplement, isUnsigned: false, isBigEndian: false);
        return b >= long.MinValue && b <= long.MaxValue ? (long)b : b;
    }

    private InvalidDataException Truncated() => new($"{source}: the pickle ends early (byte {_pos} of {data.Length}); the file is truncated or damaged.");
}
