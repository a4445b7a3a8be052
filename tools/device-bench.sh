#!/usr/bin/env bash
# One run on a GPU machine (CUDA + PyTorch, no .NET SDK): the engine's kernel-family benchmark from
# the published single-file `mama`, PyTorch at the same shapes (tools/device_bench.py), and one
# markdown table naming the card, driver and commit. See docs/device-bench.md.
#
#   tools/device-bench.sh [--mama PATH] [--device cuda|cpu|ilgpu-cpu] [--quick] [--repeat N] [--peak TFLOPS] [--no-compile] [--no-model] [--no-parity] [--stage-timeout S] [--only TEXT] [--ncu]
#
#   --mama PATH    the published CLI (default publish/mama)
#   --device D     engine device (default cuda); PyTorch runs on cuda for cuda, else on cpu
#   --quick        tiny shapes (a smoke test of the whole path in seconds)
#   --repeat N     timed runs per case and pass, medians reported (default 10)
#   --peak T       bf16 dense peak in TFLOP/s for "% of peak" (H100/H200 are known: 989)
#   --no-compile   skip the torch.compile'd variants (they compile for a minute or two)
#   --no-model     skip the ViT-B/14 at 518, batch 36 training step (engine fp32 and bf16 autocast, PyTorch both)
#   --no-parity    skip the first stage: `mama op` on the device against PyTorch in fp64 (tools/device_parity.py)
#   --stage-timeout S  end any one stage (parity, engine, PyTorch, each training-step run) after S seconds
#   --only TEXT    keep the parity and benchmark cases whose names contain TEXT (e.g. bf16)
#   --ncu          also profile the tensor-core attention kernels (forward, backward) at the ViT shape with Nsight Compute: ncu.txt
#
# Writes under $OUT (default publish/bench-out): machine.txt, parity.md + parity.json + parity-logs/,
# engine.json + engine.log, torch.json + torch.log, model-fp32.json + model-bf16.json + torch-step.json
# (+ logs), parity-generated-gemm.md + .json and generated-gemm.log (cuda: the LoRA parity cases and the matmul and LoRA rows with MAMA_CUBLAS=off), parity-fp32-route.md + .json (cuda: the bf16 cases with MAMA_TENSOR_CORES=off, the route of pre-Ampere cards), profile-bf16.csv (per-op times of one profiled bf16 step, MAMA_PROFILE), ncu.txt (--ncu), table.md. Exit status: 0 when every stage ran (and parity held), 1 when one failed (the
# table is still written with that side's columns as n/a), 2 for bad arguments.
set -uo pipefail
here=$(pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n '6,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

mama="" device=cuda repeat=10
quick=() peak=() compile=() model=1 parity=1 stage_timeout="" only=() ncu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --mama) [ $# -ge 2 ] || usage; mama=$2; shift 2 ;;
    --device) [ $# -ge 2 ] || usage; device=$2; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    --repeat) [ $# -ge 2 ] || usage; repeat=$2; shift 2 ;;
    --peak) [ $# -ge 2 ] || usage; peak=(--peak "$2"); shift 2 ;;
    --no-compile) compile=(--no-compile); shift ;;
    --no-model) model=0; shift ;;
    --no-parity) parity=0; shift ;;
    --stage-timeout) [ $# -ge 2 ] || usage; stage_timeout=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || usage; only=(--only "$2"); shift 2 ;;
    --ncu) ncu=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "device-bench.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$device" in cuda|cpu|ilgpu-cpu) ;; *) echo "device-bench.sh: --device takes cuda, cpu or ilgpu-cpu, not '$device'" >&2; exit 2 ;; esac
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "device-bench.sh: --repeat takes a positive integer, not '$repeat'" >&2; exit 2; }
[ -z "$stage_timeout" ] || [[ "$stage_timeout" =~ ^[1-9][0-9]*$ ]] || { echo "device-bench.sh: --stage-timeout takes seconds, not '$stage_timeout'" >&2; exit 2; }
# limit CMD...: CMD, ended (exit 124) after --stage-timeout seconds when one is given.
limit() { if [ -n "$stage_timeout" ]; then timeout --kill-after=10 "$stage_timeout" "$@"; else "$@"; fi; }
# --mama relative to where the script was called from; the default inside the repository.
case "$mama" in "") mama=$repo/publish/mama ;; /*) ;; *) mama=$here/$mama ;; esac
if [ ! -x "$mama" ]; then
  echo "device-bench.sh: no executable mama at '$mama'. Publish it first (docs/device-bench.md):" >&2
  echo "  dotnet publish src/MaMA.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:MamaWithTorch=false -o publish" >&2
  exit 2
fi
torch_device=cpu
[ "$device" = cuda ] && torch_device=cuda

# $OUT relative to where the script was called from; everything else from the repository root.
out=${OUT:-$repo/publish/bench-out}
case "$out" in /*) ;; *) out=$here/$out ;; esac
cd "$repo" || exit 2
mkdir -p "$out" || exit 2

# ILGPU binds the CUDA driver as libcuda.so; container images often mount only libcuda.so.1. Give it
# the unversioned name in a private folder rather than touching the system's library folders.
if [ "$device" = cuda ] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so '; then
  libcuda=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
  if [ -n "$libcuda" ]; then
    shim=$(mktemp -d); ln -s "$libcuda" "$shim/libcuda.so"
    export LD_LIBRARY_PATH="$shim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "device-bench.sh: libcuda.so -> $libcuda (through $shim)" >&2
  fi
fi

# cuBLAS for the engine's plain GEMMs (MaMA.Kernels.Linear.CuBlas): its soname if the loader finds it,
# else the CUDA toolkit's or PyTorch's copy, passed as MAMA_CUBLAS. `mama devices` (machine.txt) says which.
if [ "$device" = cuda ] && [ -z "${MAMA_CUBLAS:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.1[123] '; then
  cublas=$(ls /usr/local/cuda*/lib64/libcublas.so.1[123] /usr/local/cuda*/targets/*/lib/libcublas.so.1[123] 2>/dev/null | head -n 1)
  [ -n "$cublas" ] || cublas=$(python3 -c 'import glob, os, site; print(next(iter(sorted(p for d in site.getsitepackages() for p in glob.glob(os.path.join(d, "nvidia", "**", "libcublas.so.1[123]"), recursive=True))), ""))' 2>/dev/null)
  if [ -n "$cublas" ]; then export MAMA_CUBLAS=$cublas; echo "device-bench.sh: MAMA_CUBLAS=$cublas" >&2; fi
fi

# The machine: card and driver from nvidia-smi (absent on a CPU-only machine); the checkout's commit
# when it has its .git (the table prefers the commit in the engine's version string).
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || true)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "card: ${card:-none}"
  echo "driver: ${driver:-none}"
  echo "checkout commit: ${commit:-unknown (no .git)}"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')"
  nvidia-smi 2>/dev/null
  "$mama" devices 2>&1
} > "$out/machine.txt"

# First: does the device compute what the CPU does? Every op and gradient against PyTorch in fp64.
parity_rc=0
if [ "$parity" -eq 1 ]; then
  echo "== parity: tools/device_parity.py --device $device" >&2
  work=$(mktemp -d)
  parity_only=("${only[@]}")
  [ ${#quick[@]} -gt 0 ] && [ ${#only[@]} -eq 0 ] && parity_only=(--only odd)
  limit python3 tools/device_parity.py --mama "$mama" --work "$work" --device "$device" --json "$out/parity.json" "${parity_only[@]}" > "$out/parity.md"
  parity_rc=$?
  cat "$out/parity.md"
  mkdir -p "$out/parity-logs" && cp "$work"/*.log "$out/parity-logs/" 2>/dev/null
  rm -rf "$work"
  # A second parity pass over some cases with one setting changed: NAME.md + NAME.json.
  #   parity_again NAME SETTING CASES
  parity_again() {
    echo "== parity, $2: tools/device_parity.py --only $3" >&2
    work=$(mktemp -d)
    (export "$2"; limit python3 tools/device_parity.py --mama "$mama" --work "$work" --device "$device" --only "$3" --json "$out/$1.json") > "$out/$1.md"
    rc=$?
    [ "$rc" -eq 0 ] || parity_rc=$rc
    cat "$out/$1.md"
    rm -rf "$work"
  }
  # With cuBLAS loaded the bf16 products above ran in cuBLAS: the LoRA cases again on the generated
  # tensor-core GEMM (MAMA_CUBLAS=off), whose forward and backward products cover its four operand
  # layouts, by cp.async (c_attn) and element by element (the odd shape): parity-generated-gemm.md.
  if [ "$device" = cuda ] && { [ ${#only[@]} -eq 0 ] || [[ "lora" == *"${only[1]}"* || "${only[1]}" == *lora* ]]; }; then
    parity_again parity-generated-gemm MAMA_CUBLAS=off lora
  fi
  # The route of cards older than sm_80 (T4, V100): bf16 inputs on the fp32 kernels, widened
  # (TensorCoreSupport; MAMA_TENSOR_CORES=off takes it on any card): parity-fp32-route.md.
  if [ "$device" = cuda ] && { [ ${#only[@]} -eq 0 ] || [[ "${only[1]}" == *bf16* ]]; }; then
    parity_again parity-fp32-route MAMA_TENSOR_CORES=off bf16
  fi
fi

echo "== engine: $mama bench ops --device $device" >&2
limit "$mama" bench ops --device "$device" --repeat "$repeat" --json "$out/engine.json" "${quick[@]}" "${only[@]}" 2>&1 | tee "$out/engine.log"
engine_rc=${PIPESTATUS[0]}

# The generated tensor-core GEMM on its own: with cuBLAS loaded, plain products go to cuBLAS, so the
# matmul and LoRA rows above never time it. MAMA_CUBLAS=off routes them to TensorCoreGemm (cp.async
# tiles and ldmatrix fragments since 43c140c; docs/gpu-kernels.md, "The GEMM"): generated-gemm.log,
# medians of at most 3 runs (a side measurement; the stages after it keep their time).
if [ "$device" = cuda ]; then
  : > "$out/generated-gemm.log"
  for family in matmul lora_linear; do
    echo "== engine, generated GEMM: MAMA_CUBLAS=off $mama bench ops --device $device --only $family" >&2
    MAMA_CUBLAS=off limit "$mama" bench ops --device "$device" --repeat "$(( repeat < 3 ? repeat : 3 ))" --only "$family" "${quick[@]}" >> "$out/generated-gemm.log" 2>&1 \
      || echo "device-bench.sh: the generated GEMM's $family rows failed; see $out/generated-gemm.log" >&2
  done
  cat "$out/generated-gemm.log" >&2
fi

# Why the tensor-core attention kernels run at the speed they do: one launch of each (the ViT shape, bf16)
# under Nsight Compute, with throughput, occupancy, launch, warp-state and source-level sections.
if [ "$ncu" -eq 1 ]; then
  ncu_bin=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
  if [ -z "$ncu_bin" ]; then
    echo "device-bench.sh: --ncu: no ncu on this machine" | tee "$out/ncu.txt" >&2
  else
    : > "$out/ncu.txt"
    for kernel in FlashAttentionKernel FlashAttentionBackwardKernel; do
      echo "== ncu: Kernel_$kernel, attention vit bf16" >&2
      limit "$ncu_bin" -k "regex:^Kernel_${kernel}\$" -c 1 --section SpeedOfLight --section Occupancy --section LaunchStats \
        --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section InstructionStats \
        "$mama" bench ops --device "$device" --repeat 1 --only "attention vit B2 H12 T1374 D64 bf16" >> "$out/ncu.txt" 2>&1 \
        || echo "device-bench.sh: ncu on $kernel failed; see $out/ncu.txt" >&2
    done
  fi
fi

echo "== PyTorch: tools/device_bench.py run --device $torch_device" >&2
limit python3 tools/device_bench.py run --device "$torch_device" --repeat "$repeat" --json "$out/torch.json" "${quick[@]}" "${compile[@]}" "${only[@]}" 2>&1 | tee "$out/torch.log"
torch_rc=${PIPESTATUS[0]}

# One training step of the ViT-B/14 at 518 with the paper's batch of 36 (2 with --quick, tiny ViT),
# engine in fp32 and under bf16 autocast (tensor-core matmul and attention), PyTorch both ways.
model_rc=0
model_args=()
if [ "$model" -eq 1 ]; then
  batch=36
  [ ${#quick[@]} -gt 0 ] && batch=2
  for dtype in fp32 bf16; do
    flag=()
    [ "$dtype" = bf16 ] && flag=(--bf16)
    echo "== engine: $mama bench model --device $device --image-batch $batch ${flag[*]}" >&2
    limit "$mama" bench model --device "$device" --image-batch "$batch" --repeat 3 --json "$out/model-$dtype.json" "${flag[@]}" "${quick[@]}" 2>&1 | tee "$out/model-$dtype.log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ]; then model_args+=(--engine-model "$out/model-$dtype.json"); else model_rc=$rc; rm -f "$out/model-$dtype.json"; fi
  done
  # Where the bf16 step's time goes, per op (MAMA_PROFILE synchronises around every op, so this is a
  # separate, slower run whose times are not in the table): profile-bf16.csv, largest total first.
  echo "== engine, profiled: MAMA_PROFILE=$out/profile-bf16.csv $mama bench model --device $device --image-batch $batch --bf16 --repeat 1" >&2
  MAMA_PROFILE="$out/profile-bf16.csv" limit "$mama" bench model --device "$device" --image-batch "$batch" --bf16 --repeat 1 "${quick[@]}" > "$out/profile-bf16.log" 2>&1 \
    || echo "device-bench.sh: the profiled run failed; see $out/profile-bf16.log" >&2
  [ -f "$out/profile-bf16.csv" ] && head -25 "$out/profile-bf16.csv" >&2
  echo "== PyTorch: tools/device_bench.py step --device $torch_device --batch $batch" >&2
  limit python3 tools/device_bench.py step --device "$torch_device" --batch "$batch" --repeat 3 --json "$out/torch-step.json" "${quick[@]}" 2>&1 | tee "$out/torch-step.log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then model_args+=(--torch-model "$out/torch-step.json"); else model_rc=$rc; rm -f "$out/torch-step.json"; fi
fi

# A failed side leaves no report (both sides write theirs atomically); the table then shows n/a.
[ "$engine_rc" -eq 0 ] || rm -f "$out/engine.json"
[ "$torch_rc" -eq 0 ] || rm -f "$out/torch.json"
table_args=(--engine "$out/engine.json" --torch "$out/torch.json")
[ -n "$card" ] && table_args+=(--card "$card")
[ -n "$driver" ] && table_args+=(--driver "$driver")
# The engine report names the commit its binary was built from; git's HEAD only when it is missing.
[ -n "$commit" ] && [ ! -f "$out/engine.json" ] && table_args+=(--commit "$commit")
python3 tools/device_bench.py table "${table_args[@]}" "${peak[@]}" "${model_args[@]}" > "$out/table.md"
table_rc=$?
cat "$out/table.md"
echo "wrote $out/{machine.txt,engine.json,engine.log,torch.json,torch.log,table.md}" >&2
[ "$engine_rc" -eq 0 ] || echo "device-bench.sh: the engine run failed (exit $engine_rc); see $out/engine.log" >&2
[ "$torch_rc" -eq 0 ] || echo "device-bench.sh: the PyTorch run failed (exit $torch_rc); see $out/torch.log" >&2
[ "$parity_rc" -eq 0 ] || echo "device-bench.sh: the parity check failed (exit $parity_rc); see $out/parity.md and $out/parity-logs/" >&2
[ "$model_rc" -eq 0 ] || echo "device-bench.sh: a training-step run failed (exit $model_rc); see $out/model-*.log, $out/torch-step.log" >&2
[ "$engine_rc" -eq 0 ] && [ "$torch_rc" -eq 0 ] && [ "$table_rc" -eq 0 ] && [ "$model_rc" -eq 0 ] && [ "$parity_rc" -eq 0 ] || exit 1
