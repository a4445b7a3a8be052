#!/usr/bin/env bash
# Registers, stack frames, spills and shared memory of every CUDA kernel, from NVIDIA's PTX
# assembler, on a machine without a GPU (docs/gpu-kernels.md, "ptxas without a card").
#
#   tools/ptx-report.sh [--ptxas PATH] [--fetch-ptxas] [--arch sm_80,sm_90] [--only TEXT] [--loops] [--out DIR]
#
#   --ptxas PATH     the assembler (default: $MAMA_PTXAS, then ptxas on the PATH, then
#                    /usr/local/cuda*/bin, then the copy --fetch-ptxas keeps)
#   --fetch-ptxas    take ptxas from Debian 12's nvidia-cuda-toolkit (non-free, CUDA 11.8, an 84 MB
#                    download), unpacked into ~/.cache/mama/cuda-11.8 without installing the package
#                    or its 2.8 GB of libraries; needs apt-get and dpkg
#   --arch LIST      GPU architectures to assemble for (default sm_80,sm_90: A100, H100/H200)
#   --only TEXT      only kernels whose name contains TEXT (TensorCore: the tensor-core kernels)
#   --loops          also disassemble (nvdisasm, beside ptxas) every kernel with mma and count, for
#                    each loop holding mma, its instructions by kind: the key and query loops of the
#                    attention kernels, whose length per mma is what a card issues around the tensor cores
#   --out DIR        where the PTX, the ptxas logs and report.md go (default a fresh folder under /tmp)
#
# The PTX is what the tests compile (MAMA_PTX_DUMP): each generated kernel, the warp-per-row
# kernels, and the tensor-core kernels as CUDA loads them (after PtxLocalSlots, *.promoted.ptx).
# The report is a table, most registers first. The registers a card's driver gives can differ a
# little from this ptxas's; the device bench records the card's own (ptxas.txt).
# Exit status: 0, 1 when ptxas refused some PTX, 2 for bad arguments or no ptxas.
set -uo pipefail
cd "$(dirname "$0")/.."

ptxas="${MAMA_PTXAS:-}" fetch=0 archs="sm_80,sm_90" only="" out="" loops=0
cache="${HOME:-/tmp}/.cache/mama/cuda-11.8"
usage() { sed -n '4,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --ptxas) [ $# -ge 2 ] || usage; ptxas="$2"; shift 2 ;;
    --fetch-ptxas) fetch=1; shift ;;
    --arch) [ $# -ge 2 ] || usage; archs="$2"; shift 2 ;;
    --only) [ $# -ge 2 ] || usage; only="$2"; shift 2 ;;
    --loops) loops=1; shift ;;
    --out) [ $# -ge 2 ] || usage; out="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "ptx-report: unknown option '$1'" >&2; usage ;;
  esac
done
if ! [[ "$archs" =~ ^sm_[0-9]+[a]?(,sm_[0-9]+[a]?)*$ ]]; then
  echo "ptx-report: --arch takes a comma-separated list such as sm_80,sm_90 (got '$archs')" >&2; exit 2
fi

if [ "$fetch" = 1 ] && [ ! -x "$cache/usr/bin/ptxas" ]; then
  command -v apt-get >/dev/null && command -v dpkg >/dev/null \
    || { echo "ptx-report: --fetch-ptxas needs apt-get and dpkg (Debian); give --ptxas PATH instead" >&2; exit 2; }
  tmp=$(mktemp -d)
  echo "deb http://deb.debian.org/debian bookworm non-free" > "$tmp/sources.list"
  apt_opts=(-o Dir::Etc::sourcelist="$tmp/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::lists="$tmp/lists"
            -o Dir::Cache::archives="$tmp/archives" -o APT::Sandbox::User=root)
  mkdir -p "$tmp/lists/partial" "$tmp/archives/partial"
  echo "ptx-report: fetching ptxas from Debian 12's nvidia-cuda-toolkit (non-free, 84 MB)" >&2
  if apt-get "${apt_opts[@]}" update -qq >"$tmp/apt.log" 2>&1 \
     && (cd "$tmp" && apt-get "${apt_opts[@]}" download nvidia-cuda-toolkit >>"$tmp/apt.log" 2>&1) \
     && mkdir -p "$cache" && dpkg -x "$tmp"/nvidia-cuda-toolkit_*.deb "$tmp/x" \
     && mkdir -p "$cache/usr/bin" && cp "$tmp/x/usr/bin/ptxas" "$tmp/x/usr/bin/nvdisasm" "$cache/usr/bin/"; then
    rm -rf "$tmp"
  else
    echo "ptx-report: fetching ptxas failed; apt's output is in $tmp/apt.log" >&2; exit 2
  fi
fi
if [ -z "$ptxas" ]; then
  for p in "$(command -v ptxas 2>/dev/null)" /usr/local/cuda*/bin/ptxas "$cache/usr/bin/ptxas"; do
    [ -n "$p" ] && [ -x "$p" ] && { ptxas="$p"; break; }
  done
fi
if [ -z "$ptxas" ] || [ ! -x "$ptxas" ]; then
  echo "ptx-report: no ptxas (give --ptxas PATH, set MAMA_PTXAS, or add --fetch-ptxas)" >&2; exit 2
fi

out="${out:-$(mktemp -d /tmp/ptx-report.XXXXXX)}"
mkdir -p "$out/ptx" "$out/log"
rm -f "$out"/ptx/*.ptx "$out"/log/*.txt "$out"/log/*.cubin "$out"/log/*.sass "$out"/report.md
echo "ptx-report: compiling the kernels' PTX (MaMA.Generators.Tests, about a minute)" >&2
if ! MAMA_PTX_DUMP="$out/ptx" dotnet test tests/MaMA.Generators.Tests -c Release \
       --filter "FullyQualifiedName~Ptx_|FullyQualifiedName~TensorCorePtx_|FullyQualifiedName~WarpKernelPtxTests" \
       >"$out/log/dotnet-test.txt" 2>&1; then
  echo "ptx-report: the PTX tests failed; see $out/log/dotnet-test.txt" >&2; exit 1
fi

refused=0
shopt -s nullglob
for f in "$out"/ptx/*.ptx; do
  name=$(basename "$f" .ptx)
  # the tensor-core kernels run promoted: report that form, not the raw one
  [ -e "$out/ptx/$name.promoted.ptx" ] && continue
  name=${name%.promoted}
  [ -n "$only" ] && [[ "$name" != *"$only"* ]] && continue
  for arch in ${archs//,/ }; do
    if ! "$ptxas" -v --gpu-name "$arch" "$f" -o "$out/log/$name.$arch.cubin" >"$out/log/$name.$arch.txt" 2>&1; then
      echo "ptx-report: ptxas refused $name for $arch: $(grep -m1 -i error "$out/log/$name.$arch.txt")" >&2
      refused=$((refused + 1))
    fi
  done
done

python3 - "$out" "$("$ptxas" --version | tail -1)" <<'PY'
import glob, os, re, sys
out, version = sys.argv[1], sys.argv[2]
rows = []
for log in sorted(glob.glob(os.path.join(out, "log", "*.sm_*.txt"))):
    name, arch = os.path.basename(log)[:-4].rsplit(".", 1)
    text = open(log).read()
    regs = re.search(r"Used (\d+) registers", text)
    frame = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", text)
    smem = re.search(r"(\d+) bytes smem", text)
    if not regs:
        rows.append((name, arch, None, None, None, None, None)); continue
    stack, stores, loads = (int(g) for g in frame.groups()) if frame else (0, 0, 0)
    rows.append((name, arch, int(regs.group(1)), stack, stores, loads, int(smem.group(1)) if smem else 0))
rows.sort(key=lambda r: (-(r[2] or 10**6), r[0], r[1]))
lines = [f"ptxas: {version}", "",
         "| kernel | arch | registers | stack frame B | spill stores B | spill loads B | static smem B |",
         "|---|---|---:|---:|---:|---:|---:|"]
for r in rows:
    lines.append("| " + " | ".join([r[0], r[1]] + ["refused" if v is None else str(v) for v in r[2:]]) + " |")
spilling = sorted({r[0] for r in rows if r[4]})
lines += ["", f"{len({r[0] for r in rows})} kernels; spills in: {', '.join(spilling) if spilling else 'none'}"]
open(os.path.join(out, "report.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
if [ "$loops" = 1 ]; then
  nvdisasm="$(dirname "$ptxas")/nvdisasm"
  if [ ! -x "$nvdisasm" ]; then
    echo "ptx-report: --loops needs nvdisasm beside ptxas ($nvdisasm)" >&2; exit 2
  fi
  for cubin in "$out"/log/*.cubin; do
    grep -q "mma.sync" "$out/ptx/$(basename "$cubin" | sed 's/\.sm_[0-9a]*\.cubin$//').promoted.ptx" 2>/dev/null \
      || grep -q "mma.sync" "$out/ptx/$(basename "$cubin" | sed 's/\.sm_[0-9a]*\.cubin$//').ptx" 2>/dev/null || continue
    "$nvdisasm" -c "$cubin" > "${cubin%.cubin}.sass" 2>/dev/null || echo "ptx-report: nvdisasm failed on $cubin" >&2
  done
  python3 - "$out" <<'PY'
import collections, glob, os, re, sys
out = sys.argv[1]
lines_out = ["", "Loops holding mma (SASS from nvdisasm): the range of each backward branch, so a range can enclose another",
             "loop's code; its instructions are the static count, every branch's code included.", "",
             "| kernel | arch | loop | instructions | HMMA | MUFU | IMAD.MOV | FSETP | BRA | instructions per HMMA |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
for sass in sorted(glob.glob(os.path.join(out, "log", "*.sass"))):
    name, arch = os.path.basename(sass)[:-5].rsplit(".", 1)
    text = open(sass).read().split("\n")
    ins, labels = [], {}
    for i, l in enumerate(text):
        m = re.search(r"/\*([0-9a-f]{4,})\*/\s+(.*?);", l)
        if m:
            ins.append((int(m.group(1), 16), re.sub(r"^@!?U?P\w+\s+", "", m.group(2).strip()), i))
    for i, l in enumerate(text):
        m = re.match(r"\s*(\.L_x_\d+):", l)
        if m:
            labels[m.group(1)] = next((a for a, t, j in ins if j > i), None)
    loops = []
    for a, t, j in ins:
        m = re.search(r"BRA\s+`\((\.L_x_\d+)\)", t)
        if m and labels.get(m.group(1)) is not None and labels[m.group(1)] < a:
            loops.append((labels[m.group(1)], a))
    for s, e in sorted(loops):
        body = [t.split()[0] for a, t, j in ins if s <= a <= e]
        c = collections.Counter(body)
        kind = lambda p: sum(v for k, v in c.items() if k.startswith(p))
        if kind("HMMA") == 0:
            continue
        lines_out.append(f"| {name} | {arch} | {s:#x} | {len(body)} | {kind('HMMA')} | {kind('MUFU')} | {c['IMAD.MOV.U32']} | "
                         f"{kind('FSETP')} | {kind('BRA')} | {len(body) / kind('HMMA'):.1f} |")
with open(os.path.join(out, "report.md"), "a") as f:
    f.write("\n".join(lines_out) + "\n")
print("\n".join(lines_out))
PY
fi
echo "ptx-report: $out/report.md (PTX in $out/ptx, ptxas output in $out/log)" >&2
[ "$refused" -eq 0 ] || exit 1
exit 0
