using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MaMA.Kernels.TensorCore;

/// <summary>
/// Moves the one-value local-memory slots that ILGPU 1.5.3 gives every <c>ref</c> argument of an
/// inline-PTX statement (<c>CudaAsm.EmitRef</c>) into registers, by rewriting the PTX text.
///
/// Why: ILGPU passes each such argument through its own <c>.local</c> depot (a 4- or 8-byte
/// per-thread stack slot): a store before the statement, a load into a register, the instruction,
/// a store of the result and a load after it. For the tensor-core kernels that is 10 loads and
/// 8 stores around every <c>mma.sync</c>. ptxas did not put these slots into registers: measured on
/// an H200 (CUDA 13, sm_90), the flash-attention kernel kept a 4856-byte stack frame and the GEMM
/// an 896-byte one, and both ran at about 2% of cuBLAS / FlashAttention.
///
/// What: a depot <c>__local_depotN</c> whose address register (<c>mov.b64 %rdX, __local_depotN;</c>)
/// is used only as the whole address of <c>ld.local.T</c> / <c>st.local.T</c> with one type T
/// becomes a register <c>%lps&lt;k&gt;</c> of type T: each store a <c>mov.T</c> into it, each load a
/// <c>mov.T</c> out of it, in the same order, so the per-thread semantics are unchanged. A depot
/// used any other way (address arithmetic, several types, vector access) is left as it is.
/// </summary>
public static partial class PtxLocalSlots
{
    /// <summary>The rewritten PTX and how many depots became registers and how many were kept.</summary>
    public readonly record struct Result(string Ptx, int Promoted, int Kept);

    [GeneratedRegex(@"^[ \t]*\.local \.align \d+ \.b8 (__local_depot\d+)\[(\d+)\];[ \t]*\r?\n", RegexOptions.Multiline)]
    private static partial Regex DepotDeclaration();

    [GeneratedRegex(@"^[ \t]*mov\.b64[ \t]+(%rd\d+),[ \t]*(__local_depot\d+);[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex DepotAddress();

    [GeneratedRegex(@"^([ \t]*)st\.local\.([bfsu](?:32|64))[ \t]+\[(%rd\d+)\],[ \t]*([^;]+);[ \t]*$")]
    private static partial Regex Store();

    [GeneratedRegex(@"^([ \t]*)ld\.local\.([bfsu](?:32|64))[ \t]+(%\w+),[ \t]*\[(%rd\d+)\];[ \t]*$")]
    private static partial Regex Load();

    [GeneratedRegex(@"%rd\d+\b")]
    private static partial Regex AddressRegister();

    [GeneratedRegex(@"^[ \t]*\.reg[ \t]", RegexOptions.Multiline)]
    private static partial Regex FirstRegisterDeclaration();

    /// <summary>
    /// Rewrites <paramref name="ptx"/> (one module as ILGPU writes it). Registers, depots and their
    /// declarations are scoped by function, so each function body (a brace block at the top level:
    /// the entry, and any <c>.func</c> ILGPU did not inline) is rewritten on its own and gets its
    /// own declarations; register names repeat across functions.
    /// </summary>
    public static Result Promote(string ptx)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        var output = new StringBuilder(ptx.Length);
        int promoted = 0, kept = 0, done = 0;
        foreach ((int start, int end) in TopLevelBlocks(ptx))
        {
            Result body = PromoteFunction(ptx[start..end]);
            output.Append(ptx, done, start - done).Append(body.Ptx);
            promoted += body.Promoted;
            kept += body.Kept;
            done = end;
        }
        output.Append(ptx, done, ptx.Length - done);
        return new Result(output.ToString(), promoted, kept);
    }

    /// <summary>The [start, end) spans of the brace blocks at depth 0 (function bodies, and any initialiser list).</summary>
    private static IEnumerable<(int Start, int End)> TopLevelBlocks(string ptx)
    {
        int depth = 0, start = 0;
        for (int i = 0; i < ptx.Length; i++)
        {
            if (ptx[i] == '{')
            {
                if (depth++ == 0) start = i;
            }
            else if (ptx[i] == '}' && depth > 0 && --depth == 0)
            {
                yield return (start, i + 1);
            }
        }
        if (depth != 0) throw new InvalidOperationException("PTX with unbalanced braces: not a module ILGPU wrote.");
    }

    /// <summary>The rewrite of one function body: its depots, its registers, its declarations.</summary>
    private static Result PromoteFunction(string ptx)
    {
        var depotSizes = DepotDeclaration().Matches(ptx).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        if (depotSizes.Count == 0) return new Result(ptx, 0, 0);

        // depot -> its address register, for depots whose address is taken exactly once.
        var addressOf = new Dictionary<string, string>();
        var depotOf = new Dictionary<string, string>();
        foreach (Match m in DepotAddress().Matches(ptx))
        {
            string register = m.Groups[1].Value, depot = m.Groups[2].Value;
            if (!depotSizes.ContainsKey(depot) || addressOf.ContainsKey(depot) || depotOf.ContainsKey(register))
            {
                addressOf[depot] = "";  // taken twice or unknown: not a candidate
                continue;
            }
            addressOf[depot] = register;
            depotOf[register] = depot;
        }

        // Every use of a candidate's address register must be a whole-address scalar load or store of one type.
        string[] lines = ptx.Split('\n');
        var typeOf = new Dictionary<string, string>();   // address register -> access type
        var rejected = new HashSet<string>();
        foreach (string raw in lines)
        {
            string line = raw.TrimEnd('\r');
            string? accessed = null, type = null;
            Match st = Store().Match(line), ld = Load().Match(line);
            if (st.Success) (accessed, type) = (st.Groups[3].Value, st.Groups[2].Value);
            else if (ld.Success) (accessed, type) = (ld.Groups[4].Value, ld.Groups[2].Value);
            foreach (Match r in AddressRegister().Matches(line))
            {
                string register = r.Value;
                if (!depotOf.ContainsKey(register)) continue;
                if (DepotAddress().IsMatch(line)) continue;  // the one definition
                if (register != accessed || (st.Success && AddressRegister().Matches(st.Groups[4].Value).Any(v => v.Value == register)))
                {
                    rejected.Add(register);
                    continue;
                }
                if (typeOf.TryGetValue(register, out string? seen) && seen != type) rejected.Add(register);
                typeOf[register] = type!;
            }
        }
        var slot = new Dictionary<string, string>();     // address register -> new value register
        var declarations = new StringBuilder();
        foreach (var (register, type) in typeOf.OrderBy(p => int.Parse(p.Key.AsSpan(3), CultureInfo.InvariantCulture)))
        {
            if (rejected.Contains(register) || TypeBytes(type) != depotSizes[depotOf[register]]) continue;
            string name = $"%lps{slot.Count}";
            slot[register] = name;
            declarations.Append(CultureInfo.InvariantCulture, $"\t.reg .{type}\t{name};\n");
        }
        if (slot.Count == 0) return new Result(ptx, 0, depotSizes.Count);
        var promotedDepots = slot.Keys.Select(r => depotOf[r]).ToHashSet();

        var output = new StringBuilder(ptx.Length);
        foreach (string raw in lines)
        {
            string line = raw.TrimEnd('\r');
            Match st = Store().Match(line), ld = Load().Match(line), address = DepotAddress().Match(line);
            if (address.Success && slot.ContainsKey(address.Groups[1].Value)) continue;
            if (st.Success && slot.TryGetValue(st.Groups[3].Value, out string? to))
                line = $"{st.Groups[1].Value}mov.{st.Groups[2].Value}\t{to}, {st.Groups[4].Value.Trim()};";
            else if (ld.Success && slot.TryGetValue(ld.Groups[4].Value, out string? from))
                line = $"{ld.Groups[1].Value}mov.{ld.Groups[2].Value}\t{ld.Groups[3].Value}, {from};";
            output.Append(line).Append('\n');
        }
        output.Length--;  // the split added no trailing line; undo the last '\n'
        string rewritten = DepotDeclaration().Replace(output.ToString(), m => promotedDepots.Contains(m.Groups[1].Value) ? "" : m.Value);
        Match firstReg = FirstRegisterDeclaration().Match(rewritten);
        if (!firstReg.Success) throw new InvalidOperationException("a PTX function without register declarations: not a module ILGPU wrote.");
        rewritten = rewritten.Insert(firstReg.Index, declarations.ToString());
        return new Result(rewritten, slot.Count, depotSizes.Count - slot.Count);
    }

    private static int TypeBytes(string type) => type.EndsWith("64", StringComparison.Ordinal) ? 8 : 4;
}
