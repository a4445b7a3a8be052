namespace MaMA.Data.Synthetic;

/// <summary>
/// Draws one synthetic mammogram (8-bit grey, portrait) from a <see cref="PlannedImage"/>:
/// <list type="bullet">
/// <item>breast outline against the chest wall (left breasts on the image's left edge, right breasts
/// mirrored); CC is a half superellipse, MLO a longer contour running up into the axilla with the
/// pectoral muscle as a bright triangle in the upper chest-wall corner;</item>
/// <item>fatty tissue (mid grey, low-frequency texture, thin Cooper's-ligament-like ridges), and
/// fibroglandular tissue (bright) in a cone behind the nipple whose area is thresholded to the
/// density class's coverage band, with fatty lobules inside it;</item>
/// <item>skin: darker periphery and a faint bright skin line; quantum-like noise;</item>
/// <item>findings: masses (round/oval/lobulated/irregular outlines, sharp or blurred margins,
/// spicules), focal asymmetries (soft, low-contrast), calcification specks of the coded morphology
/// placed by the coded distribution, and biopsy clips (known cancers).</item>
/// </list>
/// Values above 215 are compressed by a soft knee so bright findings on dense tissue stay distinct.
/// </summary>
internal static class PhantomRenderer
{
    private const double Background = 3;
    private const double KneeStart = 215;
    private const double KneeRange = 40;

    /// <summary>Masses are pulled toward MassLevel + 0.45 x contrast (220-240 before the knee): brighter than any normal tissue (at most ~205).</summary>
    private const double MassLevel = 205;

    /// <summary>Asymmetries are pulled toward the brightness of fibroglandular tissue.</summary>
    private const double AsymmetryLevel = 188;

    public static (byte[] Pixels, SynthPixelStats Stats) Render(PlannedImage image, int width, int height)
    {
        int w = width, h = height;
        var rng = new SynthRandom(image.RenderSeed);
        var a = image.Anatomy;
        bool mlo = image.View == "MLO";
        bool left = image.Laterality == "L";
        double scale = w / 256.0;

        // --- Outline: for each row, how far the breast reaches from the chest wall (pixels), and the muscle.
        var edge = new double[h];
        var pec = new double[h];
        double depth = a.Depth * w;
        if (!mlo)
        {
            double cy = a.CenterY * h, ry = a.HalfHeight * h;
            for (int y = 0; y < h; y++)
            {
                double t = (y + 0.5 - cy) / ry;
                if (Math.Abs(t) >= 1) continue;
                double g = Math.Pow(1 - Math.Pow(Math.Abs(t), a.Fullness), 1 / a.Fullness);
                g *= 1 + a.Skew * t;
                g *= 1 + 0.012 * Math.Sin(2 * Math.PI * (t + a.Phase));
                edge[y] = depth * g;
            }
        }
        else
        {
            // Upper contour from the axilla (top edge) out to the nipple, then a rounded lower contour to the fold.
            double bottom = a.MloBottom * h, ph = a.PectoralHeight * h, pw = a.PectoralWidth * w;
            double yN = (a.MloTop + (a.MloBottom - a.MloTop) * 0.56) * h;
            double topWidth = pw + (0.06 + 0.3 * a.MloTop) * w;
            double reach = Math.Max(depth * 1.02, topWidth + 0.1 * w);
            for (int y = 0; y < h; y++)
            {
                double yy = y + 0.5;
                if (yy >= bottom) continue;
                double e = yy < yN
                    ? topWidth + (reach - topWidth) * Math.Pow(Math.Sin(Math.PI / 2 * yy / yN), 1.1)
                    : reach * Math.Pow(1 - Math.Pow((yy - yN) / (bottom - yN), 2.2), 1 / 2.2);
                edge[y] = e * (1 + 0.01 * Math.Sin(2 * Math.PI * (yy / h + a.Phase)));
                pec[y] = yy < ph ? pw * Math.Pow(1 - yy / ph, 0.85) : 0;
            }
        }
        double maxEdge = edge.Max();
        int nippleRow = Array.IndexOf(edge, maxEdge);
        {
            // Centre of the rows within 1% of the maximum (the outline is flat near the nipple).
            int lo = nippleRow, hi = nippleRow;
            while (lo > 0 && edge[lo - 1] >= 0.99 * maxEdge) lo--;
            while (hi < h - 1 && edge[hi + 1] >= 0.99 * maxEdge) hi++;
            nippleRow = (lo + hi) / 2;
        }
        double nippleY = nippleRow + 0.5;

        // --- Texture fields, evaluated on coarse grids (every `step` or `2 * step` pixels) and interpolated.
        int step = Math.Max(1, (int)Math.Round(2 * scale)), step2 = 2 * step;
        int gw = w / step + 2, gh = h / step + 2, gw2 = w / step2 + 2, gh2 = h / step2 + 2;
        var gStrand = new float[gw * gh];
        var gDense = new float[gw * gh];
        var gLobule = new float[gw * gh];
        var gCloud = new float[gw2 * gh2];
        var gFat = new float[gw2 * gh2];
        var gMuscle = new float[gw2 * gh2];
        uint ts = a.TextureSeed + (mlo ? 0x9E37u : 0u);
        var cloudNoise = new ValueNoise(ts);
        var strandNoise = new ValueNoise(ts * 31u + 7u);
        var fatNoise = new ValueNoise(ts * 131u + 3u);
        var denseNoise = new ValueNoise(ts * 17u + 11u);
        var lobuleNoise = new ValueNoise(ts * 53u + 19u);
        var muscleNoise = new ValueNoise(ts * 71u + 23u);
        for (int gy = 0; gy < gh; gy++)
            for (int gx = 0; gx < gw; gx++)
            {
                int g = gy * gw + gx;
                double px = gx * step + 0.5, py = gy * step + 0.5;
                float fx = (float)(px / w), fy = (float)(py / w);
                double xc = left ? px : w - px;
                // Polar coordinates around the nipple: strands run from the nipple toward the chest wall.
                double dxN = maxEdge - xc + 0.04 * w, dyN = py - nippleY;
                float rN = (float)(Math.Sqrt(dxN * dxN + dyN * dyN) / w), th = (float)Math.Atan2(dyN, dxN);
                float strand = 1 - Math.Abs(2 * strandNoise.Fbm(rN * 2.5f, th * 3.5f, 3, 0.55f) - 1);
                gStrand[g] = strand * strand * (float)SmoothStep(0.04, 0.2, rN);
                gDense[g] = denseNoise.Warped(fx * 9, fy * 9, 3, 0.8f);
                gLobule[g] = lobuleNoise.Fbm(fx * 18, fy * 18, 3, 0.45f);
            }
        for (int gy = 0; gy < gh2; gy++)
            for (int gx = 0; gx < gw2; gx++)
            {
                int g = gy * gw2 + gx;
                float fx = (float)((gx * step2 + 0.5) / w), fy = (float)((gy * step2 + 0.5) / w);
                gCloud[g] = cloudNoise.Warped(fx * 4, fy * 4, 3, 1.2f, 0.55f);
                gFat[g] = fatNoise.Fbm(fx * 6, fy * 6, 3);
                if (mlo) gMuscle[g] = muscleNoise.Fbm(fx * 5, fy * 2.5f, 3);
            }

        // --- Per-pixel geometry and the fibroglandular field.
        int n = w * h;
        var alpha = new float[n];     // coverage of the pixel by the breast (antialiased side edge)
        var depthFrac = new float[n]; // u: 0 at the chest wall, 1 at the skin
        var muscle = new float[n];    // pectoral weight
        var field = new float[n];
        var strands = new float[n];
        var tissueValues = new List<float>(n / 2);
        double halfCc = a.HalfHeight * h * 0.8;
        for (int y = 0; y < h; y++)
        {
            double e = edge[y];
            if (e <= 0) continue;
            for (int x = 0; x < w; x++)
            {
                double xc = left ? x + 0.5 : w - x - 0.5;
                double al = Math.Clamp(e - xc + 0.5, 0, 1);
                if (al <= 0) continue;
                int i = y * w + x;
                alpha[i] = (float)al;
                double u = Math.Min(1, xc / e);
                depthFrac[i] = (float)u;
                if (mlo) muscle[i] = (float)SmoothStep(-1.2, 1.2, pec[y] - xc);
                double axis = mlo ? nippleY - (1 - u) * 0.22 * h : nippleY;
                double half = (mlo ? 0.27 * h * (1 - 0.45 * u) : halfCc * (1 - 0.5 * u)) + 2;
                double d = (y + 0.5 - axis) / half;
                double weight = Math.Exp(-d * d) * SmoothStep(0.03, 0.3, u) * (1 - 0.6 * SmoothStep(0.82, 1.0, u));
                float strand = Sample(gStrand, gw, step, x, y);
                strands[i] = strand;
                field[i] = (float)(weight + 0.8 * (Sample(gCloud, gw2, step2, x, y) - 0.5) + 0.22 * (strand - 0.25));
                if (al >= 0.5 && muscle[i] < 0.5) tissueValues.Add(field[i]);
            }
        }
        float threshold = float.MaxValue;
        if (tissueValues.Count > 0)
        {
            var sorted = tissueValues.ToArray();
            Array.Sort(sorted);
            int k = Math.Clamp((int)Math.Round((1 - image.Coverage) * sorted.Length), 0, sorted.Length - 1);
            threshold = sorted[k];
        }

        // --- Distance to the skin (chamfer transform; the image border is not skin).
        var skin = DistanceToBackground(alpha, w, h);

        // --- Tissue brightness: fat (dark grey, faint ligaments) blended into fibroglandular tissue (bright, streaky, with fat lobules).
        var val = new double[n];
        double fatSum = 0, denseSum = 0;
        int tissueCount = 0, denseCount = 0, breastCount = 0, muscleCount = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                if (alpha[i] <= 0)
                {
                    val[i] = Background;
                    continue;
                }
                double u = depthFrac[i];
                double strand = strands[i];
                double fat = 76 + 20 * (Sample(gFat, gw2, step2, x, y) - 0.5) + 12 * (1 - u) + 8 * strand;
                double core = SmoothStep(threshold, threshold + 0.4, field[i]);
                double dense = 146 + 34 * core + 24 * (Sample(gDense, gw, step, x, y) - 0.5) + 12 * strand
                               - 28 * SmoothStep(0.6, 0.78, Sample(gLobule, gw, step, x, y));
                double t = SmoothStep(threshold - 0.11, threshold + 0.11, field[i]);
                double v = fat + t * (dense - fat);
                double m = muscle[i];
                if (m > 0)
                {
                    double musc = 170 + 22 * (Sample(gMuscle, gw2, step2, x, y) - 0.5) + 10 * (1 - (y + 0.5) / (a.PectoralHeight * h));
                    v = v * (1 - m) + musc * m;
                }
                val[i] = v;
                if (alpha[i] >= 0.5)
                {
                    breastCount++;
                    if (m >= 0.5) muscleCount++;
                    else
                    {
                        tissueCount++;
                        fatSum += fat;
                        if (t > 0.5)
                        {
                            denseCount++;
                            denseSum += dense;
                        }
                    }
                }
            }

        // --- Findings.
        var masses = new List<SynthMass>();
        var specks = new List<SynthSpeck>();
        var asymmetries = new List<(double, double, double)>();
        var clips = new List<(double, double)>();
        var ctx = new Context(w, h, left, mlo, scale, edge, pec, nippleY, a, alpha, muscle, skin, val, rng);
        int vessels = rng.NextInclusive(1, 3);
        for (int k = 0; k < vessels; k++) DrawVessel(ctx);
        SynthMass? lastMass = null;
        foreach (var f in image.Findings)
        {
            switch (f.Kind)
            {
                case FindingKind.Mass:
                    lastMass = DrawMass(ctx, f);
                    masses.Add(lastMass.Value);
                    if (f.Clip) clips.Add(DrawClip(ctx, lastMass.Value.X + 0.5, lastMass.Value.Y + 0.5, lastMass.Value.Radius * 0.5));
                    break;
                case FindingKind.Asymmetry:
                    asymmetries.Add(DrawAsymmetry(ctx, f));
                    break;
                case FindingKind.Calcification:
                    var (cx, cy) = DrawCalcifications(ctx, f, f.AroundMass ? lastMass : null, specks);
                    if (f.Clip) clips.Add(DrawClip(ctx, cx, cy, 0.02 * w));
                    break;
            }
        }

        // --- Skin, edge, display knee, noise, quantisation.
        var pixels = new byte[n];
        double breastValueSum = 0;
        for (int i = 0; i < n; i++)
        {
            double v;
            if (alpha[i] <= 0) v = Background + 0.8 * rng.NormalFast();
            else
            {
                double d = skin[i];
                v = val[i] * (0.6 + 0.4 * SmoothStep(0, 0.07 * w, d));
                double s = (d - 1.5 * scale) / scale;
                v += 12 * Math.Exp(-s * s);
                v = Background + alpha[i] * (v - Background);
                if (v > KneeStart) v = KneeStart + KneeRange * Math.Tanh((v - KneeStart) / KneeRange);
                v += 2.0 * rng.NormalFast();
            }
            byte b = (byte)Math.Clamp(Math.Round(v), 0, 255);
            pixels[i] = b;
            if (alpha[i] >= 0.5) breastValueSum += b;
        }

        var stats = new SynthPixelStats
        {
            BreastPixels = breastCount,
            PectoralPixels = muscleCount,
            TargetCoverage = image.Coverage,
            DenseFraction = tissueCount == 0 ? 0 : (double)denseCount / tissueCount,
            FatLevel = tissueCount == 0 ? 0 : fatSum / tissueCount,
            DenseLevel = denseCount == 0 ? 0 : denseSum / denseCount,
            MeanBreastValue = breastCount == 0 ? 0 : breastValueSum / breastCount,
            Masses = masses,
            Specks = specks,
            Asymmetries = asymmetries,
            Clips = clips,
        };
        return (pixels, stats);
    }

    private sealed record Context(
        int W, int H, bool Left, bool Mlo, double Scale, double[] Edge, double[] Pec, double NippleY, BreastAnatomy Anatomy,
        float[] Alpha, float[] Muscle, float[] Skin, double[] Val, SynthRandom Rng)
    {
        /// <summary>True when (X, Y) (continuous coordinates) lies in breast tissue at least <paramref name="margin"/> px from the skin, off the muscle.</summary>
        public bool InTissue(double x, double y, double margin)
        {
            int xi = (int)Math.Floor(x), yi = (int)Math.Floor(y);
            if (xi < 0 || yi < 0 || xi >= W || yi >= H) return false;
            int i = yi * W + xi;
            return Alpha[i] >= 1 && Muscle[i] < 0.05 && Skin[i] >= margin && ChestDistance(x) >= margin;
        }

        public double ChestDistance(double x) => Left ? x : W - x;

        public double ImageX(double fromChest) => Left ? fromChest : W - fromChest;

        public void Add(int x, int y, double amount)
        {
            if (x < 0 || y < 0 || x >= W || y >= H) return;
            int i = y * W + x;
            if (Alpha[i] <= 0) return;
            Val[i] += amount * (1 - Muscle[i] * 0.7);
        }

        /// <summary>Moves a pixel toward <paramref name="target"/> by <paramref name="weight"/>, or raises it by <paramref name="extra"/>, whichever is brighter.</summary>
        public void Lift(int x, int y, double weight, double target, double extra)
        {
            if (x < 0 || y < 0 || x >= W || y >= H) return;
            int i = y * W + x;
            if (Alpha[i] <= 0) return;
            double v = Val[i];
            Val[i] = Math.Max(v + extra, v + (target - v) * weight);
        }
    }

    /// <summary>Where a planned finding sits in this view: continuous image coordinates.</summary>
    private static (double X, double Y) Place(Context c, PlannedFinding f, double radius)
    {
        double y = c.Mlo
            ? c.NippleY + f.MloOffset * (c.Anatomy.MloBottom - c.Anatomy.MloTop) * c.H * 0.32 - (1 - f.Depth) * 0.18 * c.H
            : c.NippleY + f.CcOffset * c.Anatomy.HalfHeight * c.H * 0.7;
        // Keep to rows where the breast is wide enough for the finding.
        double maxEdge = c.Edge.Max();
        int first = Array.FindIndex(c.Edge, e => e >= 0.55 * maxEdge);
        int last = Array.FindLastIndex(c.Edge, e => e >= 0.55 * maxEdge);
        double margin = Math.Min(radius + 2, (last - first) / 3.0);
        y = Math.Clamp(y, first + margin, last + 1 - margin);
        int row = Math.Clamp((int)y, 0, c.H - 1);
        double e = c.Edge[row];
        double lo = c.Pec[row] + radius + 0.05 * c.W, hi = e - radius - 0.06 * c.W;
        double xc = f.Depth * e;
        xc = hi > lo ? Math.Clamp(xc, lo, hi) : (lo + hi) / 2;
        return (c.ImageX(xc), y);
    }

    private static SynthMass DrawMass(Context c, PlannedFinding f)
    {
        var rng = c.Rng;
        double r0 = f.Radius * c.W;
        var (cx, cy) = Place(c, f, r0);
        // Outline harmonics: radius(theta) = r0 * (1 + sum amp_k cos(k theta + phase_k)).
        var harmonics = new List<(int K, double Amp, double Phase)>();
        harmonics.Add((2, f.Shape switch { "oval" => rng.Range(0.18, 0.28), "round" => rng.Range(0.02, 0.06), _ => rng.Range(0.05, 0.15) }, rng.Range(0, 2 * Math.PI)));
        if (f.Shape == "lobulated")
            for (int k = 3; k <= 4; k++) harmonics.Add((k, rng.Range(0.08, 0.13), rng.Range(0, 2 * Math.PI)));
        if (f.Shape == "irregular")
            for (int k = 3; k <= 7; k++) harmonics.Add((k, rng.Range(0.04, 0.11), rng.Range(0, 2 * Math.PI)));
        if (f.Margin == "microlobulated")
            for (int k = 9; k <= 12; k++) harmonics.Add((k, rng.Range(0.025, 0.045), rng.Range(0, 2 * Math.PI)));
        double edgeWidth = c.Scale * f.Margin switch { "circumscribed" => 0.7, "microlobulated" => 1.0, "indistinct" => 2.6, "obscured" => 2.0, _ => 1.5 };
        var spicules = new List<(double Cos, double Sin, double Length, double Strength)>();
        if (f.Margin == "spiculated")
        {
            int count = rng.NextInclusive(10, 18);
            for (int s = 0; s < count; s++)
            {
                double th = rng.Range(0, 2 * Math.PI);
                spicules.Add((Math.Cos(th), Math.Sin(th), r0 * rng.Range(1.5, 2.6), rng.Range(0.3, 0.45)));
            }
        }
        double reach = r0 * (spicules.Count > 0 ? 2.7 : 1.5) + 3 * edgeWidth + 2;
        double target = MassLevel + 0.45 * f.Contrast;
        int x0 = (int)Math.Floor(cx - reach), x1 = (int)Math.Ceiling(cx + reach);
        int y0 = (int)Math.Floor(cy - reach), y1 = (int)Math.Ceiling(cy + reach);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                double r = Math.Sqrt(dx * dx + dy * dy);
                double th = Math.Atan2(dy, dx);
                double rb = r0;
                foreach (var (k, amp, ph) in harmonics) rb += r0 * amp * Math.Cos(k * th + ph);
                double inside = 1 - SmoothStep(rb - edgeWidth, rb + edgeWidth, r);
                double q = Math.Min(1, r * r / (rb * rb));
                double weight = inside * (0.82 + 0.18 * (1 - q));
                double add = 0;
                foreach (var (cs, sn, len, strength) in spicules)
                {
                    double along = dx * cs + dy * sn;
                    if (along < 0.6 * r0 || along > len) continue;
                    double across = Math.Abs(-dx * sn + dy * cs);
                    double wgt = 1 - (along - 0.6 * r0) / (len - 0.6 * r0);
                    double width = c.Scale * (0.7 + 0.5 * wgt);
                    add = Math.Max(add, f.Contrast * strength * wgt * Math.Exp(-across * across / (width * width)));
                }
                // Masses are denser than fibroglandular tissue: pulled toward a level above it (and at least
                // 0.6 x contrast brighter than what they cover); spicules are faint lines around them.
                if (weight > 0.003) c.Lift(x, y, weight, target, 0.6 * f.Contrast * weight);
                if (add * (1 - weight) > 0.01) c.Add(x, y, add * (1 - weight));
            }
        return new SynthMass(cx - 0.5, cy - 0.5, r0, f.Contrast, f.Shape, f.Margin);
    }

    private static (double, double, double) DrawAsymmetry(Context c, PlannedFinding f)
    {
        var rng = c.Rng;
        double r0 = f.Radius * c.W;
        var (cx, cy) = Place(c, f, r0 * 0.6);
        double th = rng.Range(0, Math.PI), cs = Math.Cos(th), sn = Math.Sin(th);
        double s1 = r0, s2 = r0 * rng.Range(0.5, 0.7);
        var noise = new ValueNoise((uint)rng.NextU64());
        int reach = (int)Math.Ceiling(3 * r0);
        for (int y = (int)cy - reach; y <= (int)cy + reach; y++)
            for (int x = (int)cx - reach; x <= (int)cx + reach; x++)
            {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                double p = dx * cs + dy * sn, q = -dx * sn + dy * cs;
                double g = Math.Exp(-0.5 * (p * p / (s1 * s1) + q * q / (s2 * s2)));
                if (g < 0.005) continue;
                double tex = 0.75 + 0.5 * noise.Fbm((float)(x * 0.08 / c.Scale), (float)(y * 0.08 / c.Scale), 2);
                // Extra glandular-looking density: clear over fat, faint over dense tissue.
                c.Lift(x, y, 0.75 * g * tex, AsymmetryLevel, 0.3 * f.Contrast * g * tex);
            }
        return (cx - 0.5, cy - 0.5, r0);
    }

    /// <summary>Places the specks by distribution, draws them by morphology; returns the cluster centre (continuous coordinates).</summary>
    private static (double X, double Y) DrawCalcifications(Context c, PlannedFinding f, SynthMass? mass, List<SynthSpeck> specks)
    {
        var rng = c.Rng;
        double w = c.W;
        double minGap = 2.8 * c.Scale + 0.4;
        double margin = 3 * c.Scale + 1;
        (double cx, double cy) = mass is { } m ? (m.X + 0.5, m.Y + 0.5) : Place(c, f, 0.04 * w);
        // Direction toward the nipple (ducts run that way), jittered.
        double dirAngle = (c.Left ? 0 : Math.PI) + rng.Range(-0.45, 0.45);
        double dx = Math.Cos(dirAngle), dy = Math.Sin(dirAngle);
        var points = new List<(double X, double Y)>();
        for (int tries = 0; points.Count < f.Count && tries < f.Count * 80; tries++)
        {
            double px, py;
            switch (mass is not null ? "around" : f.CalcDistribution)
            {
                case "around":
                {
                    double rr = mass!.Value.Radius * Math.Sqrt(rng.Range(0.05, 1.0)) * 1.4, th = rng.Range(0, 2 * Math.PI);
                    (px, py) = (cx + rr * Math.Cos(th), cy + rr * Math.Sin(th));
                    break;
                }
                case "C":
                case "G":
                case "R":
                {
                    double radius = w * f.CalcDistribution switch { "C" => 0.038, "G" => 0.06, _ => 0.11 };
                    double rr = radius * Math.Sqrt(rng.NextDouble()), th = rng.Range(0, 2 * Math.PI);
                    (px, py) = (cx + rr * Math.Cos(th), cy + rr * Math.Sin(th));
                    break;
                }
                case "L":
                {
                    double along = rng.Range(-0.075, 0.075) * w, across = 0.8 * c.Scale * rng.Normal();
                    (px, py) = (cx + along * dx - across * dy, cy + along * dy + across * dx);
                    break;
                }
                case "S":
                {
                    double rr = rng.Range(0.0, 0.12) * w, th = dirAngle + rng.Range(-0.38, 0.38);
                    double ax = cx - 0.05 * w * dx, ay = cy - 0.05 * w * dy;
                    (px, py) = (ax + rr * Math.Cos(th), ay + rr * Math.Sin(th));
                    break;
                }
                default: // "D": anywhere in the breast
                    (px, py) = (rng.Range(0, c.W), rng.Range(0, c.H));
                    break;
            }
            if (!c.InTissue(px, py, margin)) continue;
            bool crowded = false;
            foreach (var (qx, qy) in points)
                if ((qx - px) * (qx - px) + (qy - py) * (qy - py) < minGap * minGap) { crowded = true; break; }
            if (!crowded) points.Add((px, py));
        }

        foreach (var (px, py) in points)
        {
            double s = c.Scale;
            double k = f.Contrast;
            switch (f.CalcMorphology)
            {
                case "PU": Speck(c, px, py, rng.Range(0.55, 0.75) * s, 1, 0, k * rng.Range(0.85, 1.1), specks); break;
                case "AM": Speck(c, px, py, rng.Range(0.5, 0.7) * s, 1, 0, k * rng.Range(0.5, 0.62), specks); break;
                case "FP": Speck(c, px, py, rng.Range(0.5, 0.8) * s, rng.Range(1, 1.6), rng.Range(0, Math.PI), k * rng.Range(0.8, 1.1), specks); break;
                case "PL": Speck(c, px, py, rng.Range(0.6, 1.15) * s, rng.Range(1, 1.8), rng.Range(0, Math.PI), k * rng.Range(0.8, 1.15), specks); break;
                case "CH": Speck(c, px, py, rng.Range(0.8, 1.2) * s, rng.Range(1, 1.5), rng.Range(0, Math.PI), k * rng.Range(0.9, 1.1), specks); break;
                case "FB": Speck(c, px, py, rng.Range(1.2, 2.0) * s, rng.Range(0.25, 0.35), dirAngle + rng.Range(-0.5, 0.5), k * rng.Range(0.8, 1.0), specks); break;
                case "RD": Speck(c, px, py, rng.Range(1.1, 1.6) * s, 1, 0, k, specks); break;
                case "PC":
                {
                    // Coarse "popcorn": a few overlapping blobs, one speck in the truth.
                    int blobs = rng.NextInclusive(3, 4);
                    for (int b = 0; b < blobs; b++)
                    {
                        double ox = rng.Range(-1.6, 1.6) * s, oy = rng.Range(-1.6, 1.6) * s;
                        Speck(c, px + ox, py + oy, rng.Range(0.9, 1.3) * s, 1, 0, k * 0.55, null);
                    }
                    specks.Add(new SynthSpeck(px - 0.5, py - 0.5, k));
                    break;
                }
                default: Speck(c, px, py, 0.7 * s, 1, 0, k, specks); break;
            }
        }
        return (cx, cy);
    }

    /// <summary>An anisotropic Gaussian speck: sigma along <paramref name="angle"/>, sigma * <paramref name="aspect"/> across.</summary>
    private static void Speck(Context c, double px, double py, double sigma, double aspect, double angle, double contrast, List<SynthSpeck>? truth)
    {
        double s1 = Math.Max(0.35, sigma), s2 = Math.Max(0.35, sigma * aspect);
        double cs = Math.Cos(angle), sn = Math.Sin(angle);
        int reach = (int)Math.Ceiling(3 * Math.Max(s1, s2)) + 1;
        for (int y = (int)py - reach; y <= (int)py + reach; y++)
            for (int x = (int)px - reach; x <= (int)px + reach; x++)
            {
                double dx = x + 0.5 - px, dy = y + 0.5 - py;
                double p = dx * cs + dy * sn, q = -dx * sn + dy * cs;
                double g = Math.Exp(-0.5 * (p * p / (s1 * s1) + q * q / (s2 * s2)));
                if (g > 0.003) c.Add(x, y, contrast * g);
            }
        truth?.Add(new SynthSpeck(px - 0.5, py - 0.5, contrast));
    }

    /// <summary>A thin, faint, meandering vessel from the chest wall toward the nipple.</summary>
    private static void DrawVessel(Context c)
    {
        var rng = c.Rng;
        double y = c.NippleY + rng.Range(-0.3, 0.3) * c.H;
        double x = c.ImageX(rng.Range(0.02, 0.25) * c.Edge[Math.Clamp((int)y, 0, c.H - 1)]);
        double heading = (c.Left ? 0 : Math.PI) + rng.Range(-0.5, 0.5);
        double turn = 0, contrast = rng.Range(10, 16), sigma = 0.8 * c.Scale;
        int steps = (int)(c.W * rng.Range(0.3, 0.7) / 0.7);
        for (int s = 0; s < steps; s++)
        {
            if (!c.InTissue(x, y, 2 * c.Scale)) break;
            for (int yy = (int)y - 2; yy <= (int)y + 2; yy++)
                for (int xx = (int)x - 2; xx <= (int)x + 2; xx++)
                {
                    double dx = xx + 0.5 - x, dy = yy + 0.5 - y;
                    // 0.7 px steps: scale each splat so the line's brightness is about `contrast`.
                    c.Add(xx, yy, contrast * 0.28 * Math.Exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)));
                }
            turn = 0.85 * turn + 0.008 * rng.Normal();
            heading += turn;
            // Drift back toward the nipple direction so vessels do not curl up.
            double target = c.Left ? 0 : Math.PI;
            heading += 0.02 * Math.Sin(target - heading);
            x += 0.7 * Math.Cos(heading);
            y += 0.7 * Math.Sin(heading);
        }
    }

    /// <summary>A small metal clip (saturated rectangle) near (x, y); returns its pixel position.</summary>
    private static (double, double) DrawClip(Context c, double x, double y, double spread)
    {
        var rng = c.Rng;
        double px = x + rng.Range(-spread, spread), py = y + rng.Range(-spread, spread);
        int cw = Math.Max(2, (int)Math.Round(3 * c.Scale)), ch = Math.Max(1, (int)Math.Round(2 * c.Scale));
        int x0 = (int)px - cw / 2, y0 = (int)py - ch / 2;
        for (int yy = y0; yy < y0 + ch; yy++)
            for (int xx = x0; xx < x0 + cw; xx++)
            {
                if (xx < 0 || yy < 0 || xx >= c.W || yy >= c.H) continue;
                int i = yy * c.W + xx;
                if (c.Alpha[i] > 0) c.Val[i] = Math.Max(c.Val[i], 320);
            }
        return (x0 + (cw - 1) / 2.0, y0 + (ch - 1) / 2.0);
    }

    /// <summary>Approximate Euclidean distance (pixels) from each breast pixel to the nearest background pixel; the image border does not count.</summary>
    private static float[] DistanceToBackground(float[] alpha, int w, int h)
    {
        const float Inf = 1e9f, A = 1f, B = 1.41421356f;
        var d = new float[w * h];
        for (int i = 0; i < d.Length; i++) d[i] = alpha[i] >= 0.5f ? Inf : 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                if (d[i] == 0) continue;
                float v = d[i];
                if (x > 0) v = Math.Min(v, d[i - 1] + A);
                if (y > 0)
                {
                    v = Math.Min(v, d[i - w] + A);
                    if (x > 0) v = Math.Min(v, d[i - w - 1] + B);
                    if (x < w - 1) v = Math.Min(v, d[i - w + 1] + B);
                }
                d[i] = v;
            }
        for (int y = h - 1; y >= 0; y--)
            for (int x = w - 1; x >= 0; x--)
            {
                int i = y * w + x;
                if (d[i] == 0) continue;
                float v = d[i];
                if (x < w - 1) v = Math.Min(v, d[i + 1] + A);
                if (y < h - 1)
                {
                    v = Math.Min(v, d[i + w] + A);
                    if (x < w - 1) v = Math.Min(v, d[i + w + 1] + B);
                    if (x > 0) v = Math.Min(v, d[i + w - 1] + B);
                }
                d[i] = v;
            }
        return d;
    }

    /// <summary>Bilinear sample of a coarse field (grid spacing <paramref name="step"/>) at pixel (x, y).</summary>
    private static float Sample(float[] grid, int gw, int step, int x, int y)
    {
        if (step == 1) return grid[y * gw + x];
        float gx = (float)x / step, gy = (float)y / step;
        int x0 = (int)gx, y0 = (int)gy;
        float fx = gx - x0, fy = gy - y0;
        int i = y0 * gw + x0;
        float top = grid[i] + (grid[i + 1] - grid[i]) * fx;
        float bottom = grid[i + gw] + (grid[i + gw + 1] - grid[i + gw]) * fx;
        return top + (bottom - top) * fy;
    }

    private static double SmoothStep(double e0, double e1, double x)
    {
        double t = Math.Clamp((x - e0) / (e1 - e0), 0, 1);
        return t * t * (3 - 2 * t);
    }
}
