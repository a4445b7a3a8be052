namespace MaMA.Data.Synthetic;

/// <summary>
/// The EMBED-like code legend the generator writes to <c>AWS_Open_Data_Clinical_Legend.csv</c> and
/// draws its finding codes from. Codes and meanings are plausible stand-ins, not the real EMBED legend.
/// Some codes repeat under different headers (S, O, C, ...) so readers must look codes up by header.
/// </summary>
public static class SyntheticLegend
{
    /// <summary>(Header in export, Code, Meaning) rows in the order they are written.</summary>
    public static IReadOnlyList<(string Header, string Code, string Meaning)> Rows { get; } =
    [
        ("massshape", "R", "round"),
        ("massshape", "O", "oval"),
        ("massshape", "L", "lobulated"),
        ("massshape", "X", "irregular"),
        ("massshape", "A", "asymmetry"),
        ("massshape", "F", "focal asymmetry"),
        ("massmargin", "C", "circumscribed"),
        ("massmargin", "M", "microlobulated"),
        ("massmargin", "O", "obscured"),
        ("massmargin", "I", "indistinct"),
        ("massmargin", "S", "spiculated"),
        ("massdens", "+", "high density"),
        ("massdens", "=", "equal density"),
        ("massdens", "-", "low density"),
        ("massdens", "0", "fat containing"),
        ("calcfind", "PU", "punctate"),
        ("calcfind", "AM", "amorphous"),
        ("calcfind", "CH", "coarse heterogeneous"),
        ("calcfind", "FP", "fine pleomorphic"),
        ("calcfind", "PL", "pleomorphic"),
        ("calcfind", "FB", "fine linear branching"),
        ("calcfind", "RD", "round"),
        ("calcfind", "PC", "coarse or popcorn-like"),
        ("calcdistri", "C", "clustered"),
        ("calcdistri", "G", "grouped"),
        ("calcdistri", "S", "segmental"),
        ("calcdistri", "L", "linear"),
        ("calcdistri", "R", "regional"),
        ("calcdistri", "D", "diffuse"),
        ("asses", "A", "Additional evaluation needed"),
        ("asses", "N", "Negative"),
        ("asses", "B", "Benign"),
        ("asses", "P", "Probably benign"),
        ("asses", "S", "Suspicious"),
        ("asses", "M", "Highly suggestive of malignancy"),
        ("asses", "K", "Known biopsy-proven malignancy, appropriate action should be taken"),
        ("tissueden", "1", "The breasts are almost entirely fatty"),
        ("tissueden", "2", "There are scattered areas of fibroglandular density"),
        ("tissueden", "3", "The breasts are heterogeneously dense, which may obscure small masses"),
        ("tissueden", "4", "The breasts are extremely dense, which lowers the sensitivity of mammography"),
        ("tissueden", "5", "Normal male"),
        ("side", "L", "Left"),
        ("side", "R", "Right"),
        ("side", "B", "Bilateral"),
    ];

    /// <summary>The meaning of <paramref name="code"/> under <paramref name="header"/>, or null.</summary>
    public static string? Meaning(string header, string code)
    {
        foreach (var r in Rows)
            if (r.Header == header && r.Code == code) return r.Meaning;
        return null;
    }
}
