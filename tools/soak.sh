#!/usr/bin/env bash
# Soak: the tiny pre-training for 2000 steps with validation every 500, sampling the process's
# resident memory (RSS, /proc) every few seconds next to the engine allocator's per-step peak
# ("memory_mb" in metrics.jsonl). Memory is "flat" when the RSS after warm-up grows by less than
# SOAK_RSS_SLACK_MB (default 64) over the rest of the run. Writes OUT/soak-rss.csv and
# OUT/soak-figures.txt and prints the figures (docs/reliability.md records them). The CLI runs with
# MAMA_MEMORY_LOG=OUT/memory-log.csv: the allocator's collections and the storages returned by
# Dispose and by the finalizer (src/MaMA.Engine/Memory/MemoryLog.cs).
#
#   tools/soak.sh [OUT_DIR]        (default /tmp/mama-soak; STEPS=2000 EVAL=500 SAMPLE_S=5)
#
# SOAK_MAMA=PATH/mama.dll runs an already built CLI instead of building one into SOAK_ARTIFACTS.
# SOAK_PLOT=PNG also draws RSS and the allocator peak over time (tools/soak-plot.cs, ScottPlot).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/mama-soak}
STEPS=${STEPS:-2000}
EVAL=${EVAL:-500}
SAMPLE_S=${SAMPLE_S:-5}
SLACK_MB=${SOAK_RSS_SLACK_MB:-64}
ART=${SOAK_ARTIFACTS:-/tmp/art-soak}

if [ -n "${SOAK_MAMA:-}" ]; then
    MAMA=$SOAK_MAMA
else
    dotnet build src/MaMA.Cli/MaMA.Cli.csproj -c Release -p:MamaWithTorch=false --artifacts-path "$ART" -v q -nologo >/dev/null
    MAMA=$(find "$ART/bin/MaMA.Cli" -name mama.dll | head -1)
fi

rm -rf "$OUT" && mkdir -p "$OUT"
# The tiny config with the soak's length: 2000 steps, validation every 500, a checkpoint every 500.
sed -e "s/\"max_steps\": [0-9]*/\"max_steps\": $STEPS/" -e "s/\"eval_every\": [0-9]*/\"eval_every\": $EVAL/" \
    -e "s/\"checkpoint_every\": [0-9]*/\"checkpoint_every\": $EVAL/" -e "s/\"log_every\": [0-9]*/\"log_every\": 50/" \
    configs/pretrain-tiny.json > "$OUT/soak-config.json"

# The allocators' collections before growing, with the storages returned by Dispose and by the finalizer.
export MAMA_MEMORY_LOG=${MAMA_MEMORY_LOG:-$OUT/memory-log.csv}
start=$(date +%s)
dotnet "$MAMA" pretrain --config "$OUT/soak-config.json" --out "$OUT/run" > "$OUT/soak-stdout.txt" 2> "$OUT/soak-stderr.txt" &
pid=$!
echo "seconds,rss_mb,last_step" > "$OUT/soak-rss.csv"
while kill -0 "$pid" 2>/dev/null; do
    rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    # metrics.jsonl appears only after the synthetic data is written: no step yet (pipefail + set -e).
    step=$(tail -n 1 "$OUT/run/metrics.jsonl" 2>/dev/null | sed -n 's/.*"step": *\([0-9]*\).*/\1/p' || true)
    echo "$(( $(date +%s) - start )),$(( ${rss_kb:-0} / 1024 )),${step:-0}" >> "$OUT/soak-rss.csv"
    sleep "$SAMPLE_S"
done
# `wait` returns the run's exit code; under set -e a failed run must still reach the figures.
rc=0; wait "$pid" || rc=$?
wall=$(( $(date +%s) - start ))

status=0
python3 - "$OUT" "$STEPS" "$SLACK_MB" "$rc" "$wall" "$MAMA_MEMORY_LOG" <<'PY' || status=$?
import csv, json, os, sys
out, steps, slack, rc, wall, memlog = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
rows = [r for r in csv.DictReader(open(f"{out}/soak-rss.csv")) if int(r["rss_mb"]) > 0]
lines = [json.loads(l) for l in open(f"{out}/run/metrics.jsonl")]
train = [l for l in lines if l.get("kind") == "train"]
evals = [l for l in lines if l.get("kind") == "eval"]
warm = [r for r in rows if int(r["last_step"] or 0) >= steps // 10]      # after the first 10% of steps
rss_warm = int(warm[0]["rss_mb"]) if warm else 0
rss_end = int(rows[-1]["rss_mb"]) if rows else 0
rss_max = max((int(r["rss_mb"]) for r in rows), default=0)
half = [r for r in rows if int(r["last_step"] or 0) >= steps // 2]      # the second half, to see a trend
events = list(csv.DictReader(open(memlog))) if os.path.isfile(memlog) else []
mem = [l["memory_mb"] for l in train if l.get("memory_mb") is not None]
mem_warm = [m for l, m in zip(train, mem) if l["step"] >= steps // 10]
fig = {
    "exit_code": rc, "wall_seconds": wall, "steps_done": train[-1]["step"] if train else 0,
    "steps_per_second": round((train[-1]["step"] if train else 0) / max(1, wall), 2),
    "train_step_seconds_mean": round(sum(l["step_seconds"] for l in train) / max(1, len(train)), 4),
    "validations": len(evals), "validation_steps": [l["step"] for l in evals],
    "checkpoints_kept": sorted(d for d in os.listdir(f"{out}/run/checkpoints") if d.startswith("step-")) if os.path.isdir(f"{out}/run/checkpoints") else [],
    "temporary_folders_left": sorted(d for d in os.listdir(f"{out}/run/checkpoints") if d.startswith(".tmp")) if os.path.isdir(f"{out}/run/checkpoints") else [],
    "final_model": os.path.isfile(f"{out}/run/final/model.safetensors"),
    "skipped_total": train[-1].get("skipped_total") if train else None,
    "rss_mb_after_warmup": rss_warm, "rss_mb_end": rss_end, "rss_mb_max": rss_max, "rss_growth_after_warmup_mb": rss_end - rss_warm,
    "rss_mb_at_half": int(half[0]["rss_mb"]) if half else 0, "rss_growth_second_half_mb": rss_end - int(half[0]["rss_mb"]) if half else 0,
    "allocator_collections": int(events[-1]["collections"]) if events else 0,
    "allocator_collections_that_grew": sum(1 for e in events if e["event"] == "grow"),
    "storages_released_by_dispose": int(events[-1]["released_by_dispose"]) if events else None,
    "storages_released_by_finalizer": int(events[-1]["released_by_finalizer"]) if events else None,
    "allocator_peak_mb_after_warmup_min": min(mem_warm, default=None), "allocator_peak_mb_after_warmup_max": max(mem_warm, default=None),
    "loss_first_50": sum(l["loss"] for l in train[:5] if l["loss"] is not None) / max(1, len(train[:5])),
    "loss_last_50": sum(l["loss"] for l in train[-5:] if l["loss"] is not None) / max(1, len(train[-5:])),
    "flat": rc == 0 and (rss_end - rss_warm) < slack,
}
open(f"{out}/soak-figures.txt", "w").write(json.dumps(fig, indent=2) + "\n")
print(json.dumps(fig, indent=2))
sys.exit(0 if fig["flat"] else 1)
PY
if [ -n "${SOAK_PLOT:-}" ]; then
    dotnet run --file tools/soak-plot.cs -- "$OUT/soak-rss.csv" "$OUT/run/metrics.jsonl" "$SOAK_PLOT" \
        || echo "warning: tools/soak-plot.cs could not draw $SOAK_PLOT" >&2
fi
exit "$status"
