using System.Globalization;
using System.Text;
using System.Text.Json;
using MaMA.Data.Images;

namespace MaMA.Evaluation.Metrics;

/// <summary>
/// Every metric of SPEC section 7 for one set of scores, as fractions in [0, 1] (not percent).
/// NaN means undefined (0 / 0, or AUC with a class missing) and is written as JSON null.
/// <para>
/// JSON (<see cref="ToJson"/>) has always exactly these keys, in this order: <c>accuracy</c>,
/// <c>balanced_accuracy</c>, <c>auc</c>, <c>confusion_matrix</c> ([K][K] counts, rows = true class),
/// <c>per_class_accuracy</c> ([K], null for a class with no samples), then the binary-only
/// <c>sensitivity</c>, <c>specificity</c>, <c>ppv</c>, <c>npv</c>, <c>f1</c>,
/// <c>specificity_at_sensitivity_0_8</c>, <c>pf1</c>, which are present with the value null for
/// multi-class scores (so every report has the same shape).
/// </para>
/// </summary>
public sealed record MetricsReport(
    int Count,
    int ClassCount,
    double Accuracy,
    double BalancedAccuracy,
    double Auc,
    double[] PerClassAuc,
    ConfusionMatrix ConfusionMatrix,
    double[] PerClassAccuracy,
    BinaryMetrics? Binary,
    IReadOnlyList<string> Notes)
{
    /// <summary>The JSON keys, in the order written.</summary>
    public static readonly string[] JsonKeys =
    [
        "accuracy", "balanced_accuracy", "auc", "confusion_matrix", "per_class_accuracy",
        "sensitivity", "specificity", "ppv", "npv", "f1", "specificity_at_sensitivity_0_8", "pf1",
    ];

    /// <summary>The report as an indented JSON object (numbers in shortest round-trip form, NaN as null).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            Number(w, "accuracy", Accuracy);
            Number(w, "balanced_accuracy", BalancedAccuracy);
            Number(w, "auc", Auc);
            // Rows and per-class values stay on one line each (raw JSON arrays) so the matrix reads as a matrix.
            w.WritePropertyName("confusion_matrix");
            w.WriteRawValue("[\n" + string.Join(",\n", ConfusionMatrix.ToRows().Select(row =>
                "    [" + string.Join(", ", row.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]")) + "\n  ]");
            w.WritePropertyName("per_class_accuracy");
            w.WriteRawValue("[" + string.Join(", ", PerClassAccuracy.Select(JsonNumber)) + "]");
            Number(w, "sensitivity", Binary?.Sensitivity ?? double.NaN);
            Number(w, "specificity", Binary?.Specificity ?? double.NaN);
            Number(w, "ppv", Binary?.Ppv ?? double.NaN);
            Number(w, "npv", Binary?.Npv ?? double.NaN);
            Number(w, "f1", Binary?.F1 ?? double.NaN);
            Number(w, "specificity_at_sensitivity_0_8", Binary?.SpecificityAtSensitivity08 ?? double.NaN);
            Number(w, "pf1", Binary?.Pf1 ?? double.NaN);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    public void WriteJson(string path)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(ToJson());
        AtomicFile.WriteAllBytes(path, bytes);
    }

    /// <summary>A human summary: one metric a line (4 decimals, "n/a" when undefined), the confusion matrix, then the notes.</summary>
    public IEnumerable<string> Lines()
    {
        yield return $"samples {Count}, classes {ClassCount}";
        yield return Line("accuracy", Accuracy);
        yield return Line("balanced_accuracy", BalancedAccuracy);
        yield return Line("auc", Auc);
        if (Binary is { } b)
        {
            yield return Line("sensitivity", b.Sensitivity);
            yield return Line("specificity", b.Specificity);
            yield return Line("ppv", b.Ppv);
            yield return Line("npv", b.Npv);
            yield return Line("f1", b.F1);
            yield return Line("specificity_at_sensitivity_0_8", b.SpecificityAtSensitivity08);
            yield return Line("pf1", b.Pf1);
        }
        yield return $"{"per_class_accuracy",-31} {string.Join(" ", PerClassAccuracy.Select(Format))}";
        yield return "confusion_matrix (rows = true class, columns = predicted):";
        long[][] rows = ConfusionMatrix.ToRows();
        int width = Math.Max(3, rows.SelectMany(r => r).Max().ToString(CultureInfo.InvariantCulture).Length);
        yield return "      " + string.Join(" ", Enumerable.Range(0, ClassCount).Select(c => c.ToString(CultureInfo.InvariantCulture).PadLeft(width)));
        for (int t = 0; t < rows.Length; t++)
            yield return $"  {t,3} " + string.Join(" ", rows[t].Select(v => v.ToString(CultureInfo.InvariantCulture).PadLeft(width)));
        foreach (string note in Notes) yield return "note: " + note;
    }

    private static string Line(string name, double value) => $"{name,-31} {Format(value)}";

    private static string Format(double value) => double.IsNaN(value) ? "n/a" : value.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>A double as JSON text: shortest round-trip form, null when not finite.</summary>
    private static string JsonNumber(double value) => double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "null";

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        w.WritePropertyName(name);
        Number(w, value);
    }

    private static void Number(Utf8JsonWriter w, double value)
    {
        if (double.IsFinite(value)) w.WriteNumberValue(value);
        else w.WriteNullValue();
    }
}
