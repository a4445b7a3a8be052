namespace MaMA.Data.Text;

/// <summary>
/// The byte-to-character table of GPT-2 byte-level BPE: printable Latin-1 bytes ('!'..'~',
/// 0xA1..0xAC, 0xAE..0xFF) stand for themselves, every other byte b is written as the character
/// 256 + k, where k counts those other bytes in increasing order (so the space 0x20 is 'Ġ', U+0120,
/// and the newline 0x0A is 'Ċ', U+010A). Vocabulary and merges files store tokens in this alphabet.
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = Build();

    /// <summary>The character that stands for <paramref name="b"/> in byte-level vocabularies.</summary>
    public static char CharOf(byte b) => ByteToChar[b];

    /// <summary>The byte-level spelling of the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static string Encode(string text)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = ByteToChar[bytes[i]];
        }
        return new string(chars);
    }

    private static char[] Build()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
