#!/usr/bin/env python3
"""PyTorch side of tools/device-bench.sh: the MaMA kernel families at the engine's shapes.

  device_bench.py list  [--quick]
      The cases as JSON (names, shapes, FLOPs), without importing torch. A C# test compares this
      with the engine's case list (MaMA.Bench.Cases.FamilyCases), so the shapes cannot drift.
  device_bench.py run   --json FILE [--device cuda|cpu] [--quick] [--repeat N] [--only TEXT] [--no-compile]
      Times each case in PyTorch, forward and forward+backward: inputs and the upstream gradient
      (ones) are made before the clock; one warm-up (two for torch.compile'd variants), then the
      median of N runs, each bracketed by torch.cuda.synchronize() on CUDA. Variants: attention
      runs F.scaled_dot_product_attention (flash for bf16 without a mask); LoRA runs cuBLAS
      x @ W + b plus the separate low-rank matmuls; SLA, CLIP and NT-Xent run eager and
      torch.compile'd. fp32 matmuls keep PyTorch's default (no TF32).
  device_bench.py table --engine FILE --torch FILE [--peak TFLOPS] [--card NAME] [--driver V] [--commit C]
      One markdown table from `mama bench ops --json` and `run --json`: engine and torch times,
      TFLOP/s, the engine's share of the card's bf16 dense peak and the ratio torch / engine.
      Either file may be missing (that side's columns then read n/a).

FLOPs count matrix products only (2 per multiply-add), exactly as the engine counts them; the
formulas are documented in src/MaMA.Bench.Cases/Families/*.cs.
"""

import argparse
import datetime
import json
import math
import os
import statistics
import sys
import time

# bf16 dense tensor-core peak in TFLOP/s, by a substring of nvidia-smi's card name.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0}


# ---------------------------------------------------------------- cases (no torch needed)

def attention_case(model, b, h, t, d, causal, kept_keys, layer, bf16, join_heads=False, dropout_p=0.0):
    name = f"attention {model} B{b} H{h} T{t} D{d}" + (" causal" if causal else "") \
        + ("" if kept_keys is None else f"+pad layer{layer}") + (" bf16" if bf16 else "") + (" joined" if join_heads else "") \
        + (f" dropout {dropout_p}" if dropout_p else "")
    # visible (query, key) pairs: j <= i when causal, j < kept[b] when padded
    pairs = sum(min(i + 1 if causal else t, t if kept_keys is None else kept_keys[bi]) for bi in range(b) for i in range(t))
    shape = [b, h, t, d]
    params = {"model": model, "batch": b, "heads": h, "tokens": t, "head_dim": d, "causal": causal,
              "kept_keys": kept_keys, "layer": layer, "join_heads": join_heads}
    if dropout_p:  # attn_dropout in training, inside the kernels (each side its own masks, the same rate)
        params["dropout_p"] = dropout_p
    return {
        "name": name, "family": "attention", "dtype": "bf16" if bf16 else "fp32",
        "params": params,
        "inputs": [inp("q", shape), inp("k", shape), inp("v", shape)],
        # forward q k^T and P v: 4 D per pair and head; backward 10 D (FlashAttention-2's count)
        "forward_flops": 4 * h * d * pairs,
        "forward_backward_flops": 14 * h * d * pairs,
    }


def lora_case(m, fin, fout, r, scaling):
    low_rank = 2 * m * r * (fin + fout)
    return {
        "name": f"lora_linear c_attn M={m} in={fin} out={fout} r={r}", "family": "lora_linear", "dtype": "fp32",
        "params": {"tokens": m, "in_features": fin, "out_features": fout, "rank": r, "scaling": scaling},
        "inputs": [inp("x", [m, fin]), inp("weight", [fin, fout], False), inp("bias", [fout], False),
                   inp("lora_a", [r, fin]), inp("lora_b", [fout, r])],
        # base x W (W frozen: backward only dx = dy W^T) plus the low-rank pair (backward twice forward)
        "forward_flops": 2 * m * fin * fout + low_rank,
        "forward_backward_flops": 4 * m * fin * fout + 3 * low_rank,
    }


def sla_case(n, p, e, sentences):
    rows = sum(sentences)
    fwd = 2 * n * p * rows * e
    return {
        "name": f"sla_loss_n{n}_p{p}_e{e}", "family": "sla_loss", "dtype": "fp32",
        "params": {"pairs": n, "patches": p, "embed": e, "sentences": sentences},
        "inputs": [inp("patches", [n, p, e]), inp("sentences", [rows, e]), inp("local_scale", [])],
        # dense similarity forward; the backward scatters through the max winners only
        "forward_flops": fwd,
        "forward_backward_flops": fwd + 4 * n * e * (rows + n * p),
    }


def clip_case(n, e):
    return {
        "name": f"clip_loss N{n} E{e}", "family": "clip_loss", "dtype": "fp32",
        "params": {"pairs": n, "embed": e},
        "inputs": [inp("image", [n, e]), inp("text", [n, e]), inp("logit_scale", [])],
        "forward_flops": 2 * n * n * e,
        "forward_backward_flops": 6 * n * n * e,
    }


def ntxent_case(n, e, tau):
    return {
        "name": f"ntxent_loss N{n} E{e} tau{tau:g}", "family": "ntxent_loss", "dtype": "fp32",
        "params": {"pairs": n, "embed": e, "temperature": tau},
        "inputs": [inp("z0", [n, e]), inp("z1", [n, e])],
        # three distinct similarity blocks forward, four gradient products backward
        "forward_flops": 6 * n * n * e,
        "forward_backward_flops": 14 * n * n * e,
    }


def matmul_case(layer, m, k, n, dtype="bf16"):
    return {
        "name": f"matmul {layer} M={m} K={k} N={n} {dtype}", "family": "matmul", "dtype": dtype,
        "params": {"layer": layer, "m": m, "k": k, "n": n},
        "inputs": [inp("a", [m, k]), inp("b", [k, n])],
        # a @ b forward; dA and dB backward
        "forward_flops": 2 * m * k * n,
        "forward_backward_flops": 6 * m * k * n,
    }


def memory_bound_case(family, label, params, inputs):
    """An fp32 case without a matrix product: no FLOPs counted (TFLOP/s read n/a); time ratios are the measure."""
    return {"name": f"{family} {label}", "family": family, "dtype": "fp32", "params": params, "inputs": inputs,
            "forward_flops": 0, "forward_backward_flops": 0}


def layer_norm_case(layer, rows, c, eps):
    return memory_bound_case("layer_norm", f"{layer} rows={rows} C={c}", {"layer": layer, "rows": rows, "c": c, "eps": eps},
                             [inp("x", [rows, c]), inp("weight", [c]), inp("bias", [c])])


def layer_scale_case(layer, rows, c):  # LayerScale's broadcast multiply
    return memory_bound_case("layer_scale", f"{layer} rows={rows} C={c}", {"layer": layer, "rows": rows, "c": c},
                             [inp("x", [rows, c]), inp("gamma", [c])])


def dropout_case(layer, b, h, t, p):  # GPT-2's attention-probability dropout in training (different masks, same rate)
    return memory_bound_case("dropout", f"{layer} B={b} H={h} T={t} p={p}", {"layer": layer, "batch": b, "heads": h, "tokens": t, "p": p},
                             [inp("x", [b, h, t, t])])


def qkv_split_case(layer, b, t, h, d):  # the attention's head split, a permuted copy
    return memory_bound_case("qkv_split", f"{layer} B={b} T={t} H={h} D={d}",
                             {"layer": layer, "batch": b, "tokens": t, "heads": h, "head_dim": d}, [inp("qkv", [b, t, 3 * h * d])])


def bias_gelu_case(layer, rows, c):  # fc1's bias + exact GELU (fused in the engine; torch.compile fuses it too)
    return memory_bound_case("bias_gelu", f"{layer} rows={rows} C={c}", {"layer": layer, "rows": rows, "c": c},
                             [inp("y", [rows, c]), inp("bias", [c])])


def scaled_residual_case(layer, rows, c):  # residual + gamma (branch + bias), fused in the engine and by torch.compile
    return memory_bound_case("scaled_residual", f"{layer} rows={rows} C={c}", {"layer": layer, "rows": rows, "c": c},
                             [inp("residual", [rows, c]), inp("branch", [rows, c]), inp("bias", [c]), inp("gamma", [c])])


def bias_split_heads_case(layer, b, t, h, d):  # qkv's bias + head split in one pass (torch.compile fuses it too)
    return memory_bound_case("bias_split_heads", f"{layer} B={b} T={t} H={h} D={d}",
                             {"layer": layer, "batch": b, "tokens": t, "heads": h, "head_dim": d},
                             [inp("y", [b, t, 3 * h * d]), inp("bias", [3 * h * d])])


def inp(name, shape, differentiable=True):
    return {"name": name, "shape": shape, "differentiable": differentiable}


def sentence_counts(pairs):
    """S_m = 4 + (5 m mod 9): a fixed spread of 4 to 12 sentences per report (as the engine)."""
    return [4 + m * 5 % 9 for m in range(pairs)]


def cases(quick):
    """The engine's FamilyCases, in its order: paper shapes, or the tiny --quick ones."""
    if quick:
        vit, gpt2, kept, lora, sla, con = (1, 2, 33, 16), (2, 2, 17, 32), [17, 9], (17, 64, 96, 4, 4.0), (4, 25, 32), (16, 32)
        matmuls = [("vit qkv", 33, 16, 48), ("gpt2 c_attn", 17, 64, 96)]
        layer_norm = ("vit b36", 33, 16, 1e-6)
        layer_scale, qkv_split = ("vit b36", 33, 16), ("vit b36", 2, 33, 2, 8)
        bias_gelu, scaled_residual = ("vit fc1 b36", 33, 64), ("vit b36", 33, 16)
        bias_split_heads = ("vit b36", 2, 33, 2, 8)
        dropout = ("gpt2 attn probs", 2, 2, 17, 0.1)
    else:
        vit, gpt2, kept, lora, sla, con = (2, 12, 1374, 64), (4, 20, 144, 128), [144, 97, 61, 30], (576, 2560, 7680, 8, 4.0), (36, 1369, 512), (288, 512)
        matmuls = [("vit qkv", 2 * 1374, 768, 2304), ("gpt2 c_attn", 576, 2560, 7680)]
        layer_norm = ("vit b36", 36 * 1374, 768, 1e-6)
        layer_scale, qkv_split = ("vit b36", 36 * 1374, 768), ("vit b36", 36, 1374, 12, 64)
        bias_gelu, scaled_residual = ("vit fc1 b36", 36 * 1374, 3072), ("vit b36", 36 * 1374, 768)
        bias_split_heads = ("vit b36", 36, 1374, 12, 64)
        dropout = ("gpt2 attn probs", 4, 20, 144, 0.1)
    out = [attention_case("vit", *vit, False, None, 0, bf16) for bf16 in (False, True)]
    out.append(attention_case("vit", *vit, False, None, 0, True, join_heads=True))  # as the block calls it
    out += [attention_case("gpt2", *gpt2, True, None, 0, bf16) for bf16 in (False, True)]
    out += [attention_case("gpt2", *gpt2, True, kept, 11, bf16) for bf16 in (False, True)]
    out.append(attention_case("gpt2", *gpt2, True, kept, 11, True, join_heads=True, dropout_p=0.1))  # BioMedLM's training attention
    out.append(lora_case(*lora))
    out.append(sla_case(*sla, sentence_counts(sla[0])))
    out.append(clip_case(*con))
    out.append(ntxent_case(*con, 0.5))
    out += [matmul_case(*mm) for mm in matmuls]
    out += [matmul_case(*mm, dtype="fp32") for mm in matmuls]  # cuBLAS fp32 (no TF32) on both sides
    out.append(layer_norm_case(*layer_norm))
    out.append(layer_scale_case(*layer_scale))
    out.append(qkv_split_case(*qkv_split))
    out.append(bias_gelu_case(*bias_gelu))
    out.append(scaled_residual_case(*scaled_residual))
    out.append(bias_split_heads_case(*bias_split_heads))
    out.append(dropout_case(*dropout))
    return out


# ---------------------------------------------------------------- PyTorch computations

def torch_fn(case, torch, device):
    """The case's PyTorch computation over its inputs in order, and whether torch.compile is also timed."""
    F = torch.nn.functional
    p = case["params"]
    fam = case["family"]
    if fam == "attention":
        b, t, causal, kept = p["batch"], p["tokens"], p["causal"], p["kept_keys"]
        scale = 1.0 / math.sqrt(p["head_dim"]) / (p["layer"] + 1)
        mask = None
        if kept is not None:  # [B, 1, T, T], true = attend: key j < kept[b] (and j <= i when causal)
            mask = (torch.arange(t, device=device)[None, :] < torch.tensor(kept, device=device)[:, None])[:, None, None, :]
            if causal:
                mask = mask & torch.ones(t, t, dtype=torch.bool, device=device).tril()
            mask = mask.expand(b, 1, t, t)
        drop = p.get("dropout_p", 0.0)
        sdpa = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop, is_causal=causal and mask is None, scale=scale)
        if p.get("join_heads"):  # the heads joined as DINOv2 / GPT-2 do it: transpose, then reshape (a copy)
            h, d = p["heads"], p["head_dim"]
            return (lambda q, k, v: sdpa(q, k, v).transpose(1, 2).reshape(b, t, h * d)), False
        return sdpa, False
    if fam == "matmul":  # cuBLAS through torch.matmul: bf16 with fp32 accumulation, or fp32 without TF32
        return (lambda a, b: torch.matmul(a, b)), False
    if fam == "layer_norm":
        return (lambda x, w, b: F.layer_norm(x, [p["c"]], w, b, p["eps"])), False
    if fam == "layer_scale":
        return (lambda x, gamma: x * gamma), False
    if fam == "dropout":
        return (lambda x: F.dropout(x, p["p"], training=True)), False
    if fam == "bias_gelu":  # eager: an add and a GELU kernel; compiled: one fused kernel
        return (lambda y, bias: F.gelu(y + bias)), True
    if fam == "scaled_residual":  # eager: add, multiply, add; compiled: one fused kernel
        return (lambda residual, branch, bias, gamma: residual + (branch + bias) * gamma), True
    if fam == "bias_split_heads":  # eager: an add and a permuted copy; compiled: one fused kernel
        b, t, h, d = p["batch"], p["tokens"], p["heads"], p["head_dim"]
        return (lambda y, bias: (y + bias).view(b, t, 3, h, d).permute(2, 0, 3, 1, 4).contiguous()), True
    if fam == "qkv_split":
        b, t, h, d = p["batch"], p["tokens"], p["heads"], p["head_dim"]
        return (lambda qkv: qkv.view(b, t, 3, h, d).permute(2, 0, 3, 1, 4).contiguous()), False
    if fam == "lora_linear":
        s = p["scaling"]
        return (lambda x, w, bias, a, bb: torch.addmm(bias, x, w) + s * ((x @ a.t()) @ bb.t())), False
    if fam == "sla_loss":
        counts = p["sentences"]
        n, smax, rows = len(counts), max(counts), sum(counts)
        starts = [sum(counts[:m]) for m in range(n)]
        # index [M, Smax] into the sentence rows (padding repeats row 0 and is masked), valid [M, Smax]
        index = torch.tensor([[starts[m] + min(s, counts[m] - 1) for s in range(smax)] for m in range(n)], device=device)
        valid = torch.tensor([[s < counts[m] for s in range(smax)] for m in range(n)], device=device)
        # seg_avg [R, M]: 1 / S_m on report m's rows, so (x [N, R]) @ seg_avg is the per-report mean
        seg_avg = torch.zeros(rows, n, device=device)
        for m in range(n):
            seg_avg[starts[m]:starts[m] + counts[m], m] = 1.0 / counts[m]
        targets = torch.arange(n, device=device)

        def sla(patches, sentences, local_scale):
            sim = patches @ sentences.t()                                   # [N, P, R]
            t2i = (sim.amax(dim=1) @ seg_avg).t()                           # [M, N]: mean_s max_p
            grouped = sim[:, :, index].masked_fill(~valid, float("-inf"))   # [N, P, M, Smax]
            i2t = grouped.amax(dim=3).mean(dim=1).t()                       # [M, N]: mean_p max_s
            scale = local_scale.exp()

            def symmetric(scores):
                logits = scale * scores
                return F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)
            return symmetric(t2i) + symmetric(i2t)
        return sla, True
    if fam == "clip_loss":
        targets = torch.arange(p["pairs"], device=device)

        def clip(image, text, logit_scale):
            logits = logit_scale.exp() * (image @ text.t())
            return F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)
        return clip, True
    if fam == "ntxent_loss":
        n, tau = p["pairs"], p["temperature"]
        off_diagonal = ~torch.eye(n, dtype=torch.bool, device=device)
        targets = torch.arange(n, device=device).repeat(2)

        def ntxent(z0, z1):  # literally as MaMA's loss.py: four blocks, diagonals dropped, torch.cat
            a, b = F.normalize(z0, dim=1), F.normalize(z1, dim=1)
            l00 = (a @ a.t() / tau).masked_select(off_diagonal).view(n, n - 1)
            l01 = a @ b.t() / tau
            l10 = b @ a.t() / tau
            l11 = (b @ b.t() / tau).masked_select(off_diagonal).view(n, n - 1)
            logits = torch.cat([torch.cat([l01, l00], 1), torch.cat([l10, l11], 1)], 0)
            return F.cross_entropy(logits, targets)
        return ntxent, True
    raise ValueError(f"unknown family {fam}")


def time_variant(torch, fn, case, device, backward, repeat, warmup, seed=7):
    """Median milliseconds of fn forward (or forward+backward) over repeat runs after warmup runs."""
    gen = torch.Generator(device=device).manual_seed(seed)
    dtype = torch.bfloat16 if case["dtype"] == "bf16" else torch.float32
    inputs = []
    for spec in case["inputs"]:
        x = torch.randn(spec["shape"], generator=gen, device=device, dtype=torch.float32).to(dtype)
        inputs.append(x.requires_grad_(backward and spec["differentiable"]))
    seed_grad = None
    if backward:
        with torch.no_grad():
            seed_grad = torch.ones_like(fn(*inputs))

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def once():
        for x in inputs:
            x.grad = None
        sync()
        t0 = time.perf_counter()
        y = fn(*inputs)
        if backward:
            y.backward(seed_grad)
        sync()
        return (time.perf_counter() - t0) * 1e3

    for _ in range(warmup):
        once()
    return statistics.median(once() for _ in range(repeat))


def run(args):
    try:
        import torch  # only this mode needs PyTorch
    except ImportError:
        sys.exit("device_bench.py run: PyTorch is not installed here (`list` and `table` work without it)")
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("device_bench.py: --device cuda, but torch.cuda.is_available() is False")
    card = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    print(f"torch {torch.__version__} on {card}; median of {args.repeat} after warm-up", flush=True)
    rows = []
    for case in cases(args.quick):
        if args.only and args.only.lower() not in case["name"].lower():
            continue
        fn, compilable = torch_fn(case, torch, device)
        variants = [("eager", fn, 1)]
        if compilable and args.compile:
            variants.append(("compiled", torch.compile(fn), 2))
        for variant, f, warmup in variants:
            row = {"op": case["name"], "variant": variant, "dtype": case["dtype"],
                   "forward_ms": None, "forward_backward_ms": None,
                   "forward_flops": case["forward_flops"], "forward_backward_flops": case["forward_backward_flops"], "error": None}
            try:
                row["forward_ms"] = time_variant(torch, f, case, device, False, args.repeat, warmup)
                row["forward_backward_ms"] = time_variant(torch, f, case, device, True, args.repeat, warmup)
            except Exception as e:  # a failing variant (e.g. no compiler for torch.compile) must not lose the others
                row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            rows.append(row)
            print(f"{case['name']:<52} {variant:<9} fwd {fmt_ms(row['forward_ms']):>10}  f+b {fmt_ms(row['forward_backward_ms']):>10}"
                  + (f"  ERROR {row['error']}" if row["error"] else ""), flush=True)
    report = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": device, "card": card,
              "shapes": "quick" if args.quick else "paper", "repeat": args.repeat,
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"), "rows": rows}
    tmp = args.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, args.json)
    print(f"wrote {args.json}")


# ---------------------------------------------------------------- model training step

def vit_model(torch, quick):
    """DINOv2 ViT-B/14 with 4 registers at 518 (the engine's VisionConfig.VitB14Reg4), or its Tiny config with --quick."""
    nn, F = torch.nn, torch.nn.functional
    img, patch, dim, depth, heads, hidden, regs = (42, 14, 32, 2, 2, 64, 4) if quick else (518, 14, 768, 12, 12, 3072, 4)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
            self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
            self.ls1, self.ls2 = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.ones(dim))

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, dim)
            x = x + self.ls1 * self.proj(a)
            return x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            grid = img // patch
            self.patch = nn.Conv2d(3, dim, patch, patch)
            self.cls, self.reg = nn.Parameter(torch.zeros(1, 1, dim)), nn.Parameter(torch.zeros(1, regs, dim))
            self.pos = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
            self.blocks = nn.ModuleList(Block() for _ in range(depth))
            self.norm = nn.LayerNorm(dim, eps=1e-6)

        def forward(self, pixels):
            x = self.patch(pixels).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(len(x), -1, -1), x], 1) + self.pos
            x = torch.cat([x[:, :1], self.reg.expand(len(x), -1, -1), x[:, 1:]], 1)  # T = 1 + 4 + P (1374 at 518)
            for block in self.blocks:
                x = block(x)
            return self.norm(x)

    return ViT(), img


def step(args):
    """ViT-B/14 forward and training step (forward, mean, backward), fp32 and bf16 autocast, as `mama bench model --image-batch N`."""
    try:
        import torch
    except ImportError:
        sys.exit("device_bench.py step: PyTorch is not installed here")
    device = args.device
    model, img = vit_model(torch, args.quick)
    model = model.to(device)
    pixels = torch.randn(args.batch, 3, img, img, device=device)
    shape = f"{img}px b{args.batch}"
    rows = []

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def median_ms(fn):
        fn()  # warm-up
        times = []
        for _ in range(args.repeat):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)

    for variant, dtype in (("fp32", None), ("bf16-autocast", torch.bfloat16)):
        row = {"model": "vit-b14-reg4", "shape": shape, "dtype": variant, "forward_ms": None, "train_step_ms": None,
               "saved_for_backward_bytes": None, "error": None}

        def forward():
            with torch.no_grad(), torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
                model(pixels)

        def train():
            with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = model(pixels).float().mean()
            loss.backward()
            model.zero_grad(set_to_none=True)

        def saved_for_backward():
            # What the training forward leaves allocated for the backward, output included (the
            # engine's `bench model` "saved" column measures the same after a full GC).
            sync()
            before = torch.cuda.memory_allocated()
            with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
                y = model(pixels)
            sync()
            saved = torch.cuda.memory_allocated() - before
            y.float().mean().backward()
            model.zero_grad(set_to_none=True)
            return saved

        try:
            row["forward_ms"] = median_ms(forward)
            row["train_step_ms"] = median_ms(train)
            if device == "cuda":
                row["saved_for_backward_bytes"] = saved_for_backward()
        except Exception as e:  # e.g. out of memory: keep the other variant
            row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            if device == "cuda":
                torch.cuda.empty_cache()
        rows.append(row)
        print(f"vit-b14-reg4 {shape} {variant:<14} forward {fmt_ms(row['forward_ms']):>10}  train step {fmt_ms(row['train_step_ms']):>10}  saved {fmt_mb(row['saved_for_backward_bytes'])}"
              + (f"  ERROR {row['error']}" if row["error"] else ""), flush=True)
    report = {"torch": torch.__version__, "device": device, "repeat": args.repeat, "rows": rows}
    tmp = args.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, args.json)
    print(f"wrote {args.json}")


def model_table(engine_reports, torch_report):
    """Markdown lines for the training-step rows: engine `bench model` reports (one per dtype) and the torch `step` report."""
    engine_rows = [dict(r, dtype=rep.get("dtype", "fp32")) for rep in engine_reports if rep for r in rep.get("rows", [])]
    torch_rows = (torch_report or {}).get("rows", [])
    keys = list(dict.fromkeys([(r["model"], r["shape"], r["dtype"]) for r in engine_rows + torch_rows]))
    lines = ["", "| model | dtype | engine fwd ms | engine train step ms | torch fwd ms | torch train step ms | torch / engine (train) | engine saved MB | torch saved MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    notes = []
    for model, shape, dtype in keys:
        e = next((r for r in engine_rows if (r["model"], r["shape"], r["dtype"]) == (model, shape, dtype)), {})
        t = next((r for r in torch_rows if (r["model"], r["shape"], r["dtype"]) == (model, shape, dtype)), {})
        et, tt = e.get("train_step_ms"), t.get("train_step_ms")
        ratio = f"{tt / et:.2f}" if et and tt else "n/a"
        lines.append(f"| {model} {shape} | {dtype} | {fmt_ms(e.get('forward_ms'))} | {fmt_ms(et)} | {fmt_ms(t.get('forward_ms'))} | {fmt_ms(tt)} | {ratio} "
                     f"| {fmt_mb(e.get('saved_for_backward_bytes'))} | {fmt_mb(t.get('saved_for_backward_bytes'))} |")
        if t.get("error"):
            notes.append(f"{model} {shape} {dtype} torch: {t['error']}")
    return lines + [f"- {n}" for n in notes]


# ---------------------------------------------------------------- merged table

def fmt_ms(ms):
    if ms is None:
        return "n/a"
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}"


def fmt_mb(b):
    return "n/a" if b is None else f"{b / 1e6:.0f}"


def fmt_tflops(t):
    if t is None:
        return "n/a"
    return f"{t:.1f}" if t >= 10 else f"{t:.3f}"


def tflops(flops, ms):
    return flops / (ms * 1e-3) / 1e12 if flops and ms else None


def load(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def peak_for(card, peak):
    if peak is not None:
        return peak
    for key, value in PEAK_BF16_TFLOPS.items():
        if card and key in card:
            return value
    return None


def table(engine, torch_report, card=None, driver=None, commit=None, peak=None):
    """Markdown lines merging the two reports by op name (engine order, then torch-only ops)."""
    engine_rows = (engine or {}).get("rows", [])
    torch_rows = (torch_report or {}).get("rows", [])
    card = card or (torch_report or {}).get("card") or "unknown card"
    peak = peak_for(card, peak)
    if commit is None and engine and "+" in engine.get("engine_version", ""):
        commit = engine["engine_version"].split("+", 1)[1][:12]
    ops = [r["op"] for r in engine_rows] + [r["op"] for r in torch_rows if r["op"] not in {e["op"] for e in engine_rows}]
    ops = list(dict.fromkeys(ops))
    lines = [
        f"Card: {card}" + (f", driver {driver}" if driver else "")
        + (f"; bf16 dense peak {peak:g} TFLOP/s" if peak else "; bf16 dense peak n/a (pass --peak)")
        + f"; commit {commit or 'unknown'}",
        f"Engine: {engine['device'] if engine else 'n/a (no engine report)'}"
        + (f", {engine.get('shapes')} shapes, median of {engine.get('repeat')}" if engine else "")
        + f". PyTorch: {('torch ' + torch_report['torch'] + ' on ' + torch_report['device']) if torch_report else 'n/a (no torch report)'}"
        + (f", median of {torch_report.get('repeat')}" if torch_report else "") + ".",
        "",
        "| op | pass | engine ms | torch ms | torch.compile ms | engine TFLOP/s | torch TFLOP/s | engine % of bf16 peak | torch / engine |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for op in ops:
        e = next((r for r in engine_rows if r["op"] == op), None)
        variants = {r["variant"]: r for r in torch_rows if r["op"] == op}
        for key, label in (("forward", "fwd"), ("forward_backward", "f+b")):
            flops = e.get(f"{key}_flops") if e else None
            for v in variants.values():
                if v.get(f"{key}_flops") is not None and flops is not None and v[f"{key}_flops"] != flops:
                    notes.append(f"{op} {label}: FLOP counts differ (engine {flops}, torch {v[f'{key}_flops']}); the case lists drifted apart.")
                flops = flops if flops is not None else v.get(f"{key}_flops")
            engine_ms = e.get(f"engine_{key}_ms") if e else None
            eager = variants.get("eager", {}).get(f"{key}_ms")
            compiled = variants.get("compiled", {}).get(f"{key}_ms")
            torch_best = min((t for t in (eager, compiled) if t), default=None)
            engine_t = tflops(flops, engine_ms)
            pct = f"{100 * engine_t / peak:.1f}%" if engine_t is not None and peak else "n/a"
            ratio = f"{torch_best / engine_ms:.2f}" if torch_best and engine_ms else "n/a"
            compiled_cell = fmt_ms(compiled) if "compiled" in variants else "-"
            lines.append(f"| {op} | {label} | {fmt_ms(engine_ms)} | {fmt_ms(eager)} | {compiled_cell} | {fmt_tflops(engine_t)} "
                         f"| {fmt_tflops(tflops(flops, torch_best))} | {pct} | {ratio} |")
        for name, v in variants.items():
            if v.get("error"):
                notes.append(f"{op} torch {name}: {v['error']}")
    lines.append("")
    lines.append("torch / engine = the faster PyTorch variant's time / the engine's time (> 1: the engine is faster). "
                 "TFLOP/s count matrix products only; % of peak is against the bf16 dense tensor-core peak for every row.")
    lines += [f"- {n}" for n in notes]
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    p_list = sub.add_parser("list", help="print the cases as JSON (no torch needed)")
    p_list.add_argument("--quick", action="store_true", help="the tiny shapes of `mama bench ops --quick`")
    p_run = sub.add_parser("run", help="time the cases in PyTorch")
    p_run.add_argument("--json", required=True, help="where to write the report")
    p_run.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p_run.add_argument("--quick", action="store_true", help="the tiny shapes of `mama bench ops --quick`")
    p_run.add_argument("--repeat", type=int, default=10, help="timed runs per case and pass (median)")
    p_run.add_argument("--only", help="only cases whose name contains this text")
    p_run.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True, help="also time torch.compile'd SLA, CLIP, NT-Xent")
    p_step = sub.add_parser("step", help="time the ViT-B/14 forward and training step in PyTorch (fp32 and bf16 autocast)")
    p_step.add_argument("--json", required=True, help="where to write the report")
    p_step.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p_step.add_argument("--quick", action="store_true", help="the tiny ViT of `mama bench model --quick`")
    p_step.add_argument("--batch", type=int, default=36, help="images per step (the paper's 36)")
    p_step.add_argument("--repeat", type=int, default=3, help="timed runs (median)")
    p_table = sub.add_parser("table", help="merge the engine's and PyTorch's reports into one markdown table")
    p_table.add_argument("--engine", required=True, help="`mama bench ops --json` output")
    p_table.add_argument("--torch", required=True, help="`device_bench.py run --json` output")
    p_table.add_argument("--peak", type=float, help="bf16 dense peak in TFLOP/s (default: known from the card name)")
    p_table.add_argument("--card", help="card name (default: from the torch report)")
    p_table.add_argument("--driver", help="driver version")
    p_table.add_argument("--commit", help="commit (default: from the engine's version)")
    p_table.add_argument("--engine-model", action="append", default=[], help="`mama bench model --json` output (repeatable: fp32, --bf16)")
    p_table.add_argument("--torch-model", help="`device_bench.py step --json` output")
    args = ap.parse_args(argv)
    if args.mode == "list":
        print(json.dumps(cases(args.quick), indent=2))
    elif args.mode == "step":
        if args.repeat < 1 or args.batch < 1:
            ap.error("--repeat and --batch must be at least 1")
        step(args)
    elif args.mode == "run":
        if args.repeat < 1:
            ap.error("--repeat must be at least 1")
        run(args)
    else:
        engine, torch_report = load(args.engine), load(args.torch)
        if engine is None and torch_report is None:
            sys.exit(f"device_bench.py table: neither {args.engine} nor {args.torch} exists")
        lines = table(engine, torch_report, args.card, args.driver, args.commit, args.peak)
        if args.engine_model or args.torch_model:
            lines += model_table([load(p) for p in args.engine_model], load(args.torch_model))
        print("\n".join(lines))


if __name__ == "__main__":
    main()
