using System.Globalization;

namespace MaMA.Data.Synthetic;

internal enum FindingKind
{
    Mass,
    Asymmetry,
    Calcification,
}

/// <summary>A finding as planned for one breast; the renderer places it in each view of that breast.</summary>
internal sealed class PlannedFinding
{
    public FindingKind Kind { get; init; }

    /// <summary>Depth from the chest wall as a fraction of the breast depth, and vertical offsets (-1..1) in CC and MLO.</summary>
    public double Depth { get; init; }

    public double CcOffset { get; init; }

    public double MloOffset { get; init; }

    /// <summary>Mass: shape "round" | "oval" | "lobulated" | "irregular"; margin "circumscribed" | "microlobulated" | "indistinct" | "spiculated".</summary>
    public string Shape { get; init; } = "";

    public string Margin { get; init; } = "";

    /// <summary>Mass or asymmetry radius as a fraction of the image width.</summary>
    public double Radius { get; init; }

    /// <summary>Added brightness on the 0-255 scale (mass, asymmetry, or specks).</summary>
    public double Contrast { get; init; }

    /// <summary>Calcification morphology (calcfind code) and distribution (calcdistri code), and speck count.</summary>
    public string CalcMorphology { get; init; } = "";

    public string CalcDistribution { get; init; } = "";

    public int Count { get; init; }

    /// <summary>Calcifications placed around the mass of the same row.</summary>
    public bool AroundMass { get; init; }

    /// <summary>Draw a biopsy clip marker next to it (known cancers).</summary>
    public bool Clip { get; init; }
}

/// <summary>One row of the clinical table, plus the findings it stands for.</summary>
internal sealed class ClinicalRow
{
    public required long Patient { get; init; }
    public required long Study { get; init; }
    public required string StudyDate { get; init; }
    public required string Description { get; init; }
    public int FindingNumber { get; set; }
    public required string Side { get; init; }
    public string Assessment { get; set; } = "";
    public string Density { get; set; } = "";
    public string MassShape { get; set; } = "";
    public string MassMargin { get; set; } = "";
    public string MassDensity { get; set; } = "";
    public string CalcFind { get; set; } = "";
    public string CalcDistribution { get; set; } = "";
    public required string Gender { get; init; }
    public required string Age { get; init; }
    public required string Race { get; init; }
    public required string Ethnicity { get; init; }
    public List<PlannedFinding> Findings { get; } = [];
}

/// <summary>The breast of one patient: shape parameters shared by all her studies (each study jitters them a little).</summary>
internal sealed record BreastAnatomy
{
    public double Depth { get; init; }          // fraction of width reached by the nipple
    public double HalfHeight { get; init; }     // CC: half the breast's extent, fraction of height
    public double CenterY { get; init; }        // CC: vertical centre, fraction of height
    public double Fullness { get; init; }       // CC: superellipse exponent (2 = ellipse)
    public double Skew { get; init; }           // CC: how much the outline leans up or down
    public double Phase { get; init; }          // outline wobble
    public double PectoralWidth { get; init; }  // MLO: muscle width at the top, fraction of width
    public double PectoralHeight { get; init; } // MLO: muscle length down the chest wall, fraction of height
    public double MloTop { get; init; }         // MLO: where the main contour starts, fraction of height
    public double MloBottom { get; init; }      // MLO: inframammary fold, fraction of height
    public bool Male { get; init; }
    public uint TextureSeed { get; init; }

    public BreastAnatomy Jitter(SynthRandom rng) => this with
    {
        Depth = Math.Clamp(Depth * (1 + 0.04 * rng.Normal()), 0.25, 0.92),
        HalfHeight = Math.Clamp(HalfHeight * (1 + 0.03 * rng.Normal()), 0.18, 0.48),
        CenterY = Math.Clamp(CenterY + 0.015 * rng.Normal(), 0.42, 0.58),
        PectoralWidth = Math.Clamp(PectoralWidth * (1 + 0.08 * rng.Normal()), 0.12, 0.5),
        PectoralHeight = Math.Clamp(PectoralHeight * (1 + 0.06 * rng.Normal()), 0.25, 0.75),
    };
}

internal sealed class PlannedImage
{
    public required long Patient { get; init; }
    public required long Study { get; init; }
    public required int StudyIndex { get; init; }
    public required string Laterality { get; init; }
    public required string View { get; init; }
    public required string ImageType { get; init; }
    public required string FileName { get; init; }
    public required string Description { get; init; }
    public required string StudyDate { get; init; }
    public required string Manufacturer { get; init; }
    public required string Model { get; init; }
    public required BreastAnatomy Anatomy { get; init; }
    public required int RenderedDensity { get; init; }
    public required double Coverage { get; init; }
    public required IReadOnlyList<PlannedFinding> Findings { get; init; }
    public required ulong RenderSeed { get; init; }

    /// <summary>For cview rows: the 2D image whose pixels it reuses.</summary>
    public PlannedImage? SameAs { get; init; }

    public string RelativePath => $"{SyntheticEmbed.ImagesFolder}/{Patient}/{Study}/{FileName}";

    public string AnonDicomPath => $"{SyntheticEmbed.PathPrefix}{Patient}/{Study}/{FileName}";
}

internal sealed class SynthPlan
{
    public List<ClinicalRow> Rows { get; } = [];
    public List<PlannedImage> Images { get; } = [];
    public int Patients { get; set; }
    public int Studies { get; set; }
}

/// <summary>
/// Plans patients, studies, clinical rows and findings (pure data, one sequential random stream),
/// before anything is rendered. Also forces the rare cases every dataset should contain
/// (missing density, missing assessment, a description with neither "screen" nor "diag",
/// a male patient, a description with a quote and a newline, cview duplicates, an empty description,
/// missing demographics) onto distinct studies, at most one study in four.
/// </summary>
internal static class SynthPlanner
{
    internal enum Quirk
    {
        None,
        MissingDensity,
        MissingAssessment,
        NoReason,
        Male,
        QuoteNewline,
        CView,
        EmptyDescription,
        MissingDemographics,
    }

    private static readonly Quirk[] ForcedQuirks =
    [
        Quirk.MissingDensity, Quirk.MissingAssessment, Quirk.NoReason, Quirk.Male,
        Quirk.QuoteNewline, Quirk.CView, Quirk.EmptyDescription, Quirk.MissingDemographics,
    ];

    private static readonly string[] Categories = ["A", "N", "B", "P", "S", "M", "K"];
    private static readonly double[] CategoryWeights = [0.10, 0.38, 0.18, 0.08, 0.11, 0.07, 0.08];

    private static readonly string[] ScreeningDescriptions =
        ["MG Screening Bilateral", "MG Screen Bilat w/Tomo/CAD Stnd Protocol", "MG Screening Bilateral, with CAD"];

    private static readonly string[] Races =
    [
        "White", "African American  or Black", "Asian", "Native Hawaiian or Other Pacific Islander",
        "American Indian or Alaskan Native", "Multiple", "Unknown, Unavailable or Unreported",
    ];

    private static readonly double[] RaceWeights = [0.40, 0.40, 0.07, 0.02, 0.01, 0.03, 0.07];

    private static readonly (string Make, string Model)[] Machines =
        [("HOLOGIC, Inc.", "Selenia Dimensions"), ("HOLOGIC, Inc.", "Lorad Selenia"), ("GE MEDICAL SYSTEMS", "Senographe Essential")];

    /// <summary>Fraction of breast tissue that is fibroglandular, per density class 1-4 (roughly the BI-RADS quartiles).</summary>
    internal static readonly (double Low, double High)[] CoverageBands = [(0.03, 0.18), (0.26, 0.44), (0.52, 0.70), (0.78, 0.92)];

    public static SynthPlan Plan(SynthOptions options)
    {
        int n = options.Studies;
        var rng = SynthRandom.Derive(options.Seed, 1);
        var quirks = new Quirk[n];
        {
            var order = Enumerable.Range(0, n).ToList();
            rng.Shuffle(order);
            int forced = Math.Min(ForcedQuirks.Length, n / 4);
            for (int i = 0; i < forced; i++) quirks[order[i]] = ForcedQuirks[i];
        }

        var plan = new SynthPlan();
        long empi = 10_000_000 + rng.Next(2_000_000);
        long acc = 2_000_000_000_000_000 + (long)(rng.NextU64() % 1_000_000_000_000UL);
        int study = 0;
        while (study < n)
        {
            empi += 1 + rng.Next(50_000);
            int count = Math.Min(n - study, 1 + rng.PickWeighted([0.5, 0.3, 0.2]));
            bool male = rng.Chance(0.005);
            for (int s = study; s < study + count; s++) male |= quirks[s] == Quirk.Male;
            var patient = NewPatient(rng, male, options.Seed, empi);
            DateTime date = new DateTime(2011, 1, 1).AddDays(rng.Next(2200));
            double age = male ? rng.Range(45, 80) : 40 + 40 * Math.Pow(rng.NextDouble(), 1.3);
            int density = patient.Density;
            for (int k = 0; k < count; k++, study++)
            {
                acc += 1 + (long)(rng.NextU64() % 1_000_000_000UL);
                if (k > 0)
                {
                    int days = rng.NextInclusive(330, 800);
                    date = date.AddDays(days);
                    age += days / 365.25;
                    if (!male && rng.Chance(0.15)) density = Math.Clamp(density + (rng.Chance(0.6) ? -1 : 1), 1, 4);
                }
                PlanStudy(plan, rng, options, patient, empi, acc, study, date, age, density, quirks[study]);
            }
            plan.Patients++;
        }
        plan.Studies = n;
        return plan;
    }

    private sealed record Patient(bool Male, int Density, string Race, string Ethnicity, bool AgeMissing, BreastAnatomy Left, BreastAnatomy Right);

    private static Patient NewPatient(SynthRandom rng, bool male, int seed, long empi)
    {
        int density = male ? 5 : 1 + rng.PickWeighted([0.18, 0.32, 0.32, 0.18]);
        string race = rng.Chance(0.03) ? "" : Races[rng.PickWeighted(RaceWeights)];
        double e = rng.NextDouble();
        string ethnicity = e < 0.12 ? "Hispanic or Latino" : e < 0.80 ? "Non-Hispanic or Latino" : e < 0.90 ? "Unknown" : "";
        bool ageMissing = rng.Chance(0.02);
        var left = NewBreast(rng, male, seed, empi, 0);
        var right = left with
        {
            Depth = left.Depth * (1 + 0.04 * rng.Normal()),
            HalfHeight = left.HalfHeight * (1 + 0.03 * rng.Normal()),
            TextureSeed = (uint)SynthRandom.Hash(seed, empi, 1),
            Phase = rng.NextDouble(),
        };
        return new Patient(male, density, race, ethnicity, ageMissing, left, right);
    }

    private static BreastAnatomy NewBreast(SynthRandom rng, bool male, int seed, long empi, int side) => new()
    {
        Depth = male ? rng.Range(0.30, 0.42) : rng.Range(0.58, 0.84),
        HalfHeight = male ? rng.Range(0.22, 0.28) : rng.Range(0.36, 0.45),
        CenterY = rng.Range(0.46, 0.54),
        Fullness = rng.Range(1.9, 2.6),
        Skew = rng.Range(-0.12, 0.12),
        Phase = rng.NextDouble(),
        PectoralWidth = male ? rng.Range(0.30, 0.45) : rng.Range(0.20, 0.38),
        PectoralHeight = male ? rng.Range(0.45, 0.65) : rng.Range(0.38, 0.62),
        MloTop = rng.Range(0.06, 0.14),
        MloBottom = male ? rng.Range(0.62, 0.74) : rng.Range(0.84, 0.95),
        Male = male,
        TextureSeed = (uint)SynthRandom.Hash(seed, empi, side),
    };

    private static void PlanStudy(SynthPlan plan, SynthRandom rng, SynthOptions options, Patient patient, long empi, long acc,
                                  int studyIndex, DateTime date, double age, int density, Quirk quirk)
    {
        // Category, then the description that fits it.
        string category = patient.Male ? (rng.Chance(0.8) ? "N" : "B") : Categories[rng.PickWeighted(CategoryWeights)];
        if (quirk is Quirk.MissingDensity or Quirk.MissingAssessment && category is not ("N" or "B")) category = "N";
        string findingSide = rng.Chance(0.5) ? "L" : "R";
        bool screening = category switch
        {
            "N" or "B" => rng.Chance(0.85),
            "A" => rng.Chance(0.8),
            "K" => rng.Chance(0.1),
            _ => rng.Chance(0.2),
        };
        string description = screening
            ? rng.Pick(ScreeningDescriptions)
            : rng.PickWeighted([0.45, 0.3, 0.25]) switch
            {
                0 => category is "N" or "B" ? "MG Diagnostic Bilateral" : $"MG Diagnostic {(findingSide == "L" ? "Left" : "Right")}",
                1 => "MG Diagnostic Bilateral",
                _ => "MG Diag Bilat w/Tomo, CAD",
            };
        description = quirk switch
        {
            Quirk.NoReason => "MG Outside Films Review, Bilateral",
            Quirk.EmptyDescription => "",
            Quirk.QuoteNewline => screening ? "MG Screening Bilateral \"Tomo\",\nfollow-up views" : "MG Diagnostic Bilateral \"callback\",\nspot compression",
            _ => description,
        };

        string dateText = date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        bool missingDemo = quirk == Quirk.MissingDemographics;
        string ageText = patient.AgeMissing || missingDemo ? "" : (Math.Floor(age * 100) / 100).ToString("0.00", CultureInfo.InvariantCulture);
        string race = missingDemo ? "" : patient.Race;
        string ethnicity = missingDemo ? "" : patient.Ethnicity;
        string gender = patient.Male ? "Male" : "Female";

        var rows = new List<ClinicalRow>();
        ClinicalRow NewRow(string side) => new()
        {
            Patient = empi, Study = acc, StudyDate = dateText, Description = description, Side = side,
            Gender = gender, Age = ageText, Race = race, Ethnicity = ethnicity,
        };

        bool singleRow = quirk is Quirk.MissingDensity or Quirk.MissingAssessment || rng.Chance(0.035);
        if (category == "N")
        {
            if (!singleRow && rng.Chance(0.12))
            {
                rows.Add(Assess(NewRow("L"), "N"));
                rows.Add(Assess(NewRow("R"), "N"));
            }
            else rows.Add(Assess(NewRow("B"), "N"));
        }
        else if (category == "B" && (singleRow || rng.Chance(0.4)))
        {
            // Bilateral benign calcifications, drawn in both breasts.
            var row = Assess(NewRow("B"), "B");
            AddFinding(rng, row, BenignCalcs(rng, diffuse: true));
            rows.Add(row);
        }
        else
        {
            var primary = Assess(NewRow(findingSide), category);
            foreach (var f in FindingsFor(rng, category)) AddFinding(rng, primary, f);
            rows.Add(primary);
            if (category is not ("N" or "B" or "A") && rng.Chance(0.25))
            {
                // A second, lesser finding in the same breast.
                string second = rng.Chance(0.5) ? "B" : "P";
                var row = Assess(NewRow(findingSide), second);
                foreach (var f in FindingsFor(rng, second, preferCalcs: true)) AddFinding(rng, row, f);
                rows.Add(row);
            }
            string otherSide = findingSide == "L" ? "R" : "L";
            double r = rng.NextDouble();
            if (r < 0.62) rows.Add(Assess(NewRow(otherSide), "N"));
            else if (r < 0.90) rows.Add(Assess(NewRow("B"), "N"));
            // else: no row for the other breast, whose images then take the study's row(s) (SPEC's last rule).
            if (rng.Chance(0.5)) rng.Shuffle(rows);
        }

        // Density: one value per study, written on every row.
        string densityText = density.ToString(CultureInfo.InvariantCulture);
        foreach (var row in rows) row.Density = densityText;
        if (quirk == Quirk.MissingDensity || (quirk == Quirk.None && rows.Count == 1 && rng.Chance(0.02))) rows[0].Density = "";
        if (quirk == Quirk.MissingAssessment || (quirk == Quirk.None && rows.Count == 1 && rng.Chance(0.015))) rows[0].Assessment = "";
        for (int i = 0; i < rows.Count; i++) rows[i].FindingNumber = i + 1;
        plan.Rows.AddRange(rows);

        // Images: both breasts, CC and MLO, rendered from this study's findings.
        var machine = Machines[(int)(SynthRandom.Hash(options.Seed, acc, 7) % (ulong)Machines.Length)];
        bool cview = quirk == Quirk.CView || rng.Chance(0.04);
        var added = new List<PlannedImage>();
        int imageNumber = 0;
        foreach (string side in new[] { "L", "R" })
        {
            var anatomy = (side == "L" ? patient.Left : patient.Right).Jitter(rng);
            int rendered = patient.Male ? 5 : density;
            double coverage = patient.Male ? rng.Range(0.04, 0.10) : rng.Range(CoverageBands[density - 1].Low, CoverageBands[density - 1].High);
            var findings = rows.Where(r => r.Side == side || r.Side == "B").SelectMany(r => r.Findings).ToList();
            foreach (string view in new[] { "CC", "MLO" })
            {
                imageNumber++;
                added.Add(new PlannedImage
                {
                    Patient = empi, Study = acc, StudyIndex = studyIndex, Laterality = side, View = view, ImageType = "2D",
                    FileName = $"1.2.826.0.1.3680043.8.498.{acc}.{imageNumber}.png",
                    Description = description, StudyDate = dateText, Manufacturer = machine.Make, Model = machine.Model,
                    Anatomy = anatomy, RenderedDensity = rendered, Coverage = coverage, Findings = findings,
                    RenderSeed = SynthRandom.Hash(options.Seed, acc, imageNumber),
                });
            }
        }
        if (cview)
        {
            foreach (var img in added.ToArray())
                added.Add(new PlannedImage
                {
                    Patient = img.Patient, Study = img.Study, StudyIndex = img.StudyIndex, Laterality = img.Laterality, View = img.View,
                    ImageType = "cview", FileName = img.FileName.Replace(".png", ".9.png", StringComparison.Ordinal),
                    Description = img.Description, StudyDate = img.StudyDate, Manufacturer = img.Manufacturer, Model = img.Model,
                    Anatomy = img.Anatomy, RenderedDensity = img.RenderedDensity, Coverage = img.Coverage, Findings = img.Findings,
                    RenderSeed = img.RenderSeed, SameAs = img,
                });
        }
        plan.Images.AddRange(added);
    }

    private static ClinicalRow Assess(ClinicalRow row, string asses)
    {
        row.Assessment = asses;
        return row;
    }

    /// <summary>Attaches a finding to a row and writes its codes (each code left empty now and then, as in real exports).</summary>
    private static void AddFinding(SynthRandom rng, ClinicalRow row, PlannedFinding f)
    {
        row.Findings.Add(f);
        switch (f.Kind)
        {
            case FindingKind.Mass:
                if (rng.Chance(0.85)) row.MassShape = f.Shape switch { "round" => "R", "oval" => "O", "lobulated" => "L", _ => "X" };
                if (rng.Chance(0.6)) row.MassMargin = f.Margin switch { "circumscribed" => "C", "microlobulated" => "M", "indistinct" => "I", "obscured" => "O", _ => "S" };
                if (rng.Chance(0.8)) row.MassDensity = f.Contrast switch { >= 56 => "+", >= 40 => "=", _ => rng.Chance(0.5) ? "-" : "0" };
                break;
            case FindingKind.Asymmetry:
                double r = rng.NextDouble();
                if (r < 0.75) row.MassShape = r < 0.5 ? "F" : "A";
                if (rng.Chance(0.5)) row.MassDensity = "=";
                break;
            case FindingKind.Calcification:
                if (rng.Chance(0.88)) row.CalcFind = f.CalcMorphology;
                if (rng.Chance(0.88)) row.CalcDistribution = f.CalcDistribution;
                break;
        }
    }

    private static IEnumerable<PlannedFinding> FindingsFor(SynthRandom rng, string category, bool preferCalcs = false)
    {
        switch (category)
        {
            case "A":
                yield return new PlannedFinding
                {
                    Kind = FindingKind.Asymmetry, Depth = rng.Range(0.35, 0.7), CcOffset = rng.Range(-0.4, 0.4), MloOffset = rng.Range(-0.4, 0.4),
                    Radius = rng.Range(0.07, 0.10), Contrast = rng.Range(38, 50),
                };
                break;
            case "B":
                if (preferCalcs || rng.Chance(0.55)) yield return BenignCalcs(rng, diffuse: false);
                else yield return Mass(rng, rng.Chance(0.5) ? "oval" : "round", "circumscribed", rng.Range(0.035, 0.05), rng.Range(36, 46));
                break;
            case "P":
                if (preferCalcs || rng.Chance(0.3))
                    yield return Calcs(rng, "PU", rng.Chance(0.5) ? "G" : "C", rng.NextInclusive(5, 8), rng.Range(60, 80));
                else yield return Mass(rng, rng.Chance(0.5) ? "oval" : "round", "circumscribed", rng.Range(0.028, 0.04), rng.Range(42, 54));
                break;
            default: // S, M, K
            {
                double r = rng.NextDouble();
                bool mass = category == "K" ? r < 0.9 : r < 0.7;
                bool calcs = category == "K" ? r >= 0.6 : r >= 0.45;
                if (mass)
                {
                    string margin = category == "S" ? rng.Pick(["indistinct", "microlobulated", "spiculated"]) : "spiculated";
                    double radius = category switch { "S" => rng.Range(0.035, 0.055), "M" => rng.Range(0.04, 0.065), _ => rng.Range(0.05, 0.075) };
                    double contrast = category switch { "S" => rng.Range(50, 64), _ => rng.Range(58, 74) };
                    var m = Mass(rng, category == "S" && rng.Chance(0.3) ? "lobulated" : "irregular", margin, radius, contrast, clip: category == "K" && rng.Chance(0.7));
                    yield return m;
                    if (calcs)
                        yield return Calcs(rng, category == "S" ? rng.Pick(["AM", "FP"]) : rng.Pick(["PL", "FB"]), "C",
                            rng.NextInclusive(7, 14), rng.Range(70, 100), around: true, depth: m.Depth, cc: m.CcOffset, mlo: m.MloOffset);
                }
                else
                {
                    string morph = category == "S" ? rng.Pick(["AM", "FP", "CH"]) : rng.Pick(["PL", "FB", "FP"]);
                    string dist = category == "S" ? rng.Pick(["C", "G"]) : rng.Pick(["C", "S", "L"]);
                    yield return Calcs(rng, morph, dist, rng.NextInclusive(9, 18), rng.Range(70, 105), clip: category == "K");
                }
                break;
            }
        }
    }

    private static PlannedFinding Mass(SynthRandom rng, string shape, string margin, double radius, double contrast, bool clip = false) => new()
    {
        Kind = FindingKind.Mass, Shape = shape, Margin = margin, Radius = radius, Contrast = contrast, Clip = clip,
        Depth = rng.Range(0.35, 0.72), CcOffset = rng.Range(-0.45, 0.45), MloOffset = rng.Range(-0.45, 0.45),
    };

    private static PlannedFinding Calcs(SynthRandom rng, string morph, string dist, int count, double contrast, bool clip = false,
                                        bool around = false, double depth = -1, double cc = 0, double mlo = 0) => new()
    {
        Kind = FindingKind.Calcification, CalcMorphology = morph, CalcDistribution = dist, Count = count, Contrast = contrast, Clip = clip,
        AroundMass = around,
        Depth = depth >= 0 ? depth : rng.Range(0.35, 0.72),
        CcOffset = depth >= 0 ? cc : rng.Range(-0.45, 0.45),
        MloOffset = depth >= 0 ? mlo : rng.Range(-0.45, 0.45),
    };

    private static PlannedFinding BenignCalcs(SynthRandom rng, bool diffuse)
    {
        string morph = rng.Chance(0.5) ? "RD" : "PC";
        string dist = diffuse ? "D" : rng.Chance(0.5) ? "R" : "D";
        int count = morph == "PC" ? rng.NextInclusive(4, 7) : rng.NextInclusive(8, 16);
        return Calcs(rng, morph, dist, count, rng.Range(85, 115));
    }
}
