namespace MaMA.Reliability.Tests.Fuzz;

/// <summary>
/// Seeded byte-level mutations of a valid input, the classic dumb-fuzzer set: bit flips, bytes and
/// 32-bit words set to boundary values (0, 0x7F, 0x80, 0xFF, int.MaxValue, uint.MaxValue: what turns
/// lengths and dimensions into overflows), chunk deletion, duplication and insertion of random
/// bytes, and truncation. One to four mutations per input; the same seed gives the same inputs.
/// </summary>
internal sealed class Mutator(int seed)
{
    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF];
    private static readonly uint[] InterestingWords = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF, 0x1_0000, 0x0FFF_FFFF];
    private readonly Random _rng = new(seed);

    public byte[] Mutate(byte[] input)
    {
        var data = new List<byte>(input);
        int n = 1 + _rng.Next(4);
        for (int i = 0; i < n && data.Count > 0; i++)
        {
            int at = _rng.Next(data.Count);
            switch (_rng.Next(8))
            {
                case 0: data[at] ^= (byte)(1 << _rng.Next(8)); break;
                case 1: data[at] = InterestingBytes[_rng.Next(InterestingBytes.Length)]; break;
                case 2:
                    {
                        uint w = InterestingWords[_rng.Next(InterestingWords.Length)];
                        bool bigEndian = _rng.Next(2) == 0;
                        for (int k = 0; k < 4 && at + k < data.Count; k++)
                            data[at + k] = (byte)(bigEndian ? w >> (24 - 8 * k) : w >> (8 * k));
                        break;
                    }
                case 3: data.RemoveRange(at, Math.Min(data.Count - at, 1 + _rng.Next(16))); break;
                case 4:
                    {
                        int len = Math.Min(data.Count - at, 1 + _rng.Next(32));
                        data.InsertRange(_rng.Next(data.Count), data.GetRange(at, len));
                        break;
                    }
                case 5:
                    {
                        var junk = new byte[1 + _rng.Next(8)];
                        _rng.NextBytes(junk);
                        data.InsertRange(at, junk);
                        break;
                    }
                case 6: data.RemoveRange(at, data.Count - at); break; // truncate
                default: data[at] = (byte)_rng.Next(256); break;
            }
        }
        return [.. data];
    }
}
