#!/usr/bin/env python3
"""Does the card compute what the CPU and the simulator do? `mama op` on the GPU against PyTorch in fp64.

  device_parity.py --mama PATH --work DIR [--device cuda] [--json FILE] [--only TEXT] [--timeout S]

For each case below: random inputs (seeded; already L2-normalised where the op's contract says so),
written with the upstream gradients `grad_<output>` to DIR/NAME.in.safetensors; then
`mama op OP --in ... --out ... --device D --backward`; then PyTorch computes the same outputs and
gradients in float64 from the same (bf16-rounded where bf16) values, on the GPU when there is one.
Each output and gradient is compared by relative L2 error, ||engine - ref|| / ||ref||, against the
issue's tolerances: fp32 1e-4, bf16 2e-2 (the bf16 forward runs the tensor-core kernels, whose
simulator parity was about 1e-3). PyTorch also computes everything in float32 on the same values,
and its own error is printed beside the engine's: a value that fp32 cannot compute to the
tolerance (heavy cancellation, e.g. SLA's local_scale gradient on random data) passes when the
engine's error is at most 4x PyTorch's fp32 error, and is marked fp32-conditioned.

The cases cover MaMA's real shapes (the bench shapes) and odd ones that leave partial tiles
(T 77, M 97, N 33). Tensor names are the `mama op` contract (docs/ops.md).

Prints one markdown table, writes `--json` with every comparison, exits 1 when a comparison fails
or an engine run fails (its stderr is in DIR/NAME.log), 2 for bad arguments.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

FP32_TOL, BF16_TOL = 1e-4, 2e-2


def attention(name, b, h, t, d, causal, kept, layer, bf16, join_heads=False):
    return {"name": name, "op": "attention", "bf16": bf16,
            "shape": dict(b=b, h=h, t=t, d=d, causal=causal, kept=kept, scale=1.0 / math.sqrt(d) / (layer + 1), join_heads=join_heads)}


def lora(name, m, fin, fout, r, bf16):
    return {"name": name, "op": "lora_linear", "bf16": bf16, "shape": dict(m=m, fin=fin, fout=fout, r=r, scaling=4.0)}


def sla(name, n, p, e):
    return {"name": name, "op": "sla_loss", "bf16": False,
            "shape": dict(n=n, p=p, e=e, counts=[4 + m * 5 % 9 for m in range(n)])}


def clip(name, n, e):
    return {"name": name, "op": "clip_loss", "bf16": False, "shape": dict(n=n, e=e)}


def layer_norm(name, rows, c):
    return {"name": name, "op": "layer_norm", "bf16": False, "shape": dict(rows=rows, c=c, eps=1e-6)}


def bias_gelu(name, rows, c, tanh=False):
    return {"name": name, "op": "bias_gelu", "bf16": False, "shape": dict(rows=rows, c=c, tanh=tanh)}


def scaled_residual(name, rows, c, gamma=True):
    return {"name": name, "op": "scaled_residual", "bf16": False, "shape": dict(rows=rows, c=c, gamma=gamma)}


def bias_split_heads(name, b, t, h, d, bias=True):
    return {"name": name, "op": "bias_split_heads", "bf16": False, "shape": dict(b=b, t=t, h=h, d=d, bias=bias)}


def ntxent(name, n, e):
    return {"name": name, "op": "ntxent_loss", "bf16": False, "shape": dict(n=n, e=e)}


CASES = [
    attention("attention_vit_bf16", 2, 12, 1374, 64, False, None, 0, True),
    attention("attention_vit_fp32", 2, 12, 1374, 64, False, None, 0, False),
    # as the ViT block calls it: [B, T, H D] written by the tensor-core kernel in bf16, dO read where it lies
    attention("attention_vit_joined_bf16", 2, 12, 1374, 64, False, None, 0, True, join_heads=True),
    attention("attention_gpt2_pad_bf16", 4, 20, 144, 128, True, [144, 97, 61, 30], 11, True),
    attention("attention_gpt2_pad_fp32", 4, 20, 144, 128, True, [144, 97, 61, 30], 11, False),
    attention("attention_odd_causal_bf16", 2, 3, 77, 64, True, None, 0, True),
    attention("attention_odd_d128_bf16", 1, 2, 45, 128, False, [45], 0, True),
    lora("lora_c_attn_fp32", 576, 2560, 7680, 8, False),
    lora("lora_c_attn_bf16", 576, 2560, 7680, 8, True),
    lora("lora_odd_bf16", 97, 200, 300, 8, True),
    lora("lora_odd_fp32", 97, 200, 300, 8, False),
    sla("sla_paper", 36, 1369, 512),
    sla("sla_odd", 5, 37, 33),
    clip("clip_paper", 288, 512),
    clip("clip_odd", 33, 50),
    ntxent("ntxent_paper", 288, 512),
    ntxent("ntxent_odd", 33, 50),
    layer_norm("layer_norm_vit_b36", 36 * 1374, 768),
    layer_norm("layer_norm_odd", 37, 100),
    bias_gelu("bias_gelu_vit_fc1_b36", 36 * 1374, 3072),
    bias_gelu("bias_gelu_odd", 37, 100),
    # GPT-2's MLP (BioMedLM: 4 x 144 tokens, inner 4 x 2560), the tanh form
    bias_gelu("bias_gelu_gpt2_fc_tanh", 4 * 144, 10240, tanh=True),
    bias_gelu("bias_gelu_tanh_odd", 37, 100, tanh=True),
    scaled_residual("scaled_residual_vit_b36", 36 * 1374, 768),
    scaled_residual("scaled_residual_odd", 37, 100),
    scaled_residual("scaled_residual_no_gamma_odd", 37, 100, gamma=False),
    bias_split_heads("bias_split_heads_vit_b36", 36, 1374, 12, 64),
    bias_split_heads("bias_split_heads_odd", 3, 77, 5, 24),
    # GPT-2's c_attn with LoRA: the epilogue added the bias, the split alone remains
    bias_split_heads("bias_split_heads_gpt2_nobias", 4, 144, 20, 128, bias=False),
]


def make_inputs(torch, case, gen):
    """(inputs for the file, differentiable input names, outputs to seed with a gradient)."""
    F = torch.nn.functional
    s = case["shape"]
    dt = torch.bfloat16 if case["bf16"] else torch.float32
    rnd = lambda *shape: torch.randn(shape, generator=gen, dtype=torch.float32)
    op = case["op"]
    if op == "attention":
        shape = (s["b"], s["h"], s["t"], s["d"])
        x = {"q": rnd(*shape).to(dt), "k": rnd(*shape).to(dt), "v": rnd(*shape).to(dt),
             "causal": torch.tensor(1.0 if s["causal"] else 0.0), "scale": torch.tensor(s["scale"])}
        if s["kept"] is not None:
            x["key_padding_mask"] = (torch.arange(s["t"])[None, :] < torch.tensor(s["kept"])[:, None]).float()
        if s["join_heads"]:
            x["join_heads"] = torch.tensor(1.0)
            return x, ["q", "k", "v"], {"out": (s["b"], s["t"], s["h"] * s["d"])}
        return x, ["q", "k", "v"], {"out": shape}
    if op == "lora_linear":
        m, fin, fout, r = s["m"], s["fin"], s["fout"], s["r"]
        x = {"x": rnd(m, fin).to(dt), "weight": (rnd(fin, fout) / math.sqrt(fin)).to(dt), "bias": rnd(fout).to(dt),
             "lora_a": (rnd(r, fin) / math.sqrt(fin)).to(dt), "lora_b": (rnd(fout, r) * 0.1).to(dt),
             "scaling": torch.tensor(s["scaling"])}
        return x, ["x", "bias", "lora_a", "lora_b"], {"out": (m, fout)}
    if op == "sla_loss":
        n, p, e, counts = s["n"], s["p"], s["e"], s["counts"]
        offsets = torch.tensor([0] + [sum(counts[:i + 1]) for i in range(n)], dtype=torch.int64)
        x = {"patches": F.normalize(rnd(n, p, e), dim=-1), "sentences": F.normalize(rnd(sum(counts), e), dim=-1),
             "sentence_offsets": offsets, "local_scale": torch.tensor(math.log(10.0))}
        return x, ["patches", "sentences", "local_scale"], {"loss_t2i": (), "loss_i2t": (), "t2i": (n, n), "i2t": (n, n)}
    if op == "clip_loss":
        n, e = s["n"], s["e"]
        x = {"image": F.normalize(rnd(n, e), dim=-1), "text": F.normalize(rnd(n, e), dim=-1),
             "logit_scale": torch.tensor(math.log(1 / 0.07))}
        return x, ["image", "text", "logit_scale"], {"loss": ()}
    if op == "ntxent_loss":
        n, e = s["n"], s["e"]
        return {"z0": rnd(n, e), "z1": rnd(n, e), "temperature": torch.tensor(0.5)}, ["z0", "z1"], {"loss": ()}
    if op == "layer_norm":
        rows, c = s["rows"], s["c"]
        # an offset mean, as activations have: the variance must not cancel
        x = {"x": rnd(rows, c) + 3.0, "weight": 1.0 + 0.1 * rnd(c), "bias": rnd(c), "eps": torch.tensor(s["eps"])}
        return x, ["x", "weight", "bias"], {"out": (rows, c)}
    if op == "bias_gelu":
        rows, c = s["rows"], s["c"]
        x = {"y": 2.0 * rnd(rows, c), "bias": rnd(c)}
        if s["tanh"]:
            x["tanh"] = torch.tensor(1.0)
        return x, ["y", "bias"], {"out": (rows, c)}
    if op == "scaled_residual":
        rows, c = s["rows"], s["c"]
        x = {"residual": rnd(rows, c), "branch": rnd(rows, c), "bias": rnd(c)}
        if s["gamma"]:
            x["gamma"] = rnd(c)
        return x, [k for k in ("residual", "branch", "bias", "gamma") if k in x], {"out": (rows, c)}
    if op == "bias_split_heads":
        b, t, h, d = s["b"], s["t"], s["h"], s["d"]
        x = {"y": rnd(b, t, 3 * h * d), "heads": torch.tensor(float(h))}
        if s["bias"]:
            x["bias"] = rnd(3 * h * d)
        return x, [k for k in ("y", "bias") if k in x], {"out": (3, b, h, t, d)}
    raise ValueError(op)


def reference(torch, case, x):
    """The op's outputs in float64 from x (a dict of float64 / int64 tensors on one device)."""
    F = torch.nn.functional
    s = case["shape"]
    op = case["op"]
    ce = lambda logits: F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))
    if op == "attention":
        q, k, v = x["q"], x["k"], x["v"]
        t = q.shape[2]
        scores = (q @ k.transpose(-1, -2)) * float(x["scale"])
        visible = torch.ones(t, t, dtype=torch.bool, device=q.device)
        if s["causal"]:
            visible = visible.tril()
        visible = visible[None, None]
        if "key_padding_mask" in x:
            visible = visible & (x["key_padding_mask"] != 0)[:, None, None, :]
        out = torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1) @ v
        if s["join_heads"]:
            out = out.transpose(1, 2).reshape(q.shape[0], t, q.shape[1] * q.shape[3])
        return {"out": out}
    if op == "lora_linear":
        xx = x["x"]
        return {"out": xx @ x["weight"] + x["bias"] + float(x["scaling"]) * ((xx @ x["lora_a"].t()) @ x["lora_b"].t())}
    if op == "sla_loss":
        patches, sentences, offsets = x["patches"], x["sentences"], x["sentence_offsets"].tolist()
        n = patches.shape[0]
        t2i_rows, i2t_rows = [], []
        for m in range(n):
            sim = patches @ sentences[offsets[m]:offsets[m + 1]].t()     # [N, P, S_m]
            t2i_rows.append(sim.amax(dim=1).mean(dim=1))                # mean_s max_p, per image
            i2t_rows.append(sim.amax(dim=2).mean(dim=1))                # mean_p max_s
        t2i, i2t = torch.stack(t2i_rows), torch.stack(i2t_rows)         # [M reports, N images]
        l = x["local_scale"].exp()
        return {"loss_t2i": ce(l * t2i) + ce(l * t2i.t()), "loss_i2t": ce(l * i2t) + ce(l * i2t.t()), "t2i": t2i, "i2t": i2t}
    if op == "clip_loss":
        logits = x["logit_scale"].exp() * (x["image"] @ x["text"].t())
        return {"loss": ce(logits) + ce(logits.t())}
    if op == "ntxent_loss":
        a, b = F.normalize(x["z0"], dim=1), F.normalize(x["z1"], dim=1)
        n, tau = a.shape[0], float(x["temperature"])
        off = ~torch.eye(n, dtype=torch.bool, device=a.device)
        l00 = (a @ a.t() / tau).masked_select(off).view(n, n - 1)
        l11 = (b @ b.t() / tau).masked_select(off).view(n, n - 1)
        logits = torch.cat([torch.cat([a @ b.t() / tau, l00], 1), torch.cat([b @ a.t() / tau, l11], 1)], 0)
        return {"loss": F.cross_entropy(logits, torch.arange(n, device=a.device).repeat(2))}
    if op == "layer_norm":
        return {"out": F.layer_norm(x["x"], [x["x"].shape[-1]], x["weight"], x["bias"], float(x["eps"]))}
    if op == "bias_gelu":
        return {"out": F.gelu(x["y"] + x["bias"], approximate="tanh" if "tanh" in x else "none")}
    if op == "scaled_residual":
        pre = x["branch"] + x["bias"]
        return {"out": x["residual"] + (pre * x["gamma"] if "gamma" in x else pre)}
    if op == "bias_split_heads":
        b, t, n = x["y"].shape
        h = int(x["heads"])
        y = x["y"] + x["bias"] if "bias" in x else x["y"]
        return {"out": y.view(b, t, 3, h, n // (3 * h)).permute(2, 0, 3, 1, 4).contiguous()}
    raise ValueError(op)


def rel_l2(got, ref):
    got, ref = got.double().flatten(), ref.double().flatten()
    denom = ref.norm().item()
    diff = (got - ref).norm().item()
    return diff / denom if denom > 0 else diff


def run_case(torch, st, args, case, device):
    name, op = case["name"], case["op"]
    gen = torch.Generator().manual_seed(20261128 + sum(map(ord, name)))
    x, diff_names, outputs = make_inputs(torch, case, gen)
    grads = {f"grad_{o}": torch.randn(tuple(shape), generator=gen, dtype=torch.float32) for o, shape in outputs.items()}
    path_in = os.path.join(args.work, f"{name}.in.safetensors")
    path_out = os.path.join(args.work, f"{name}.out.safetensors")
    st.save_file({k: v.contiguous() for k, v in {**x, **grads}.items()}, path_in)
    if os.path.exists(path_out):
        os.remove(path_out)
    cmd = [args.mama, "op", op, "--in", path_in, "--out", path_out, "--device", args.device, "--backward"]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        rc, log = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        rc, log = 124, f"timed out after {args.timeout} s\n{e.stdout or ''}{e.stderr or ''}"
    seconds = time.perf_counter() - t0
    with open(os.path.join(args.work, f"{name}.log"), "w") as f:
        f.write(" ".join(cmd) + "\n" + log)
    result = {"case": name, "op": op, "dtype": "bf16" if case["bf16"] else "fp32", "engine_rc": rc,
              "engine_seconds": round(seconds, 2), "comparisons": []}
    if rc != 0:
        result["error"] = log.strip().splitlines()[-1] if log.strip() else f"exit {rc}"
        return result
    got = st.load_file(path_out)

    # Reference: float64 on the torch device, from exactly the values the engine read.
    xr = {k: (v.to(device).double() if v.is_floating_point() else v.to(device)) for k, v in x.items()}
    want = outputs_and_grads(torch, case, xr, diff_names, outputs, grads, device)
    # The same computation by PyTorch in float32 on the same values: how well fp32 can do at all.
    # A value with heavy cancellation (SLA's local_scale gradient on random data) is ill-conditioned,
    # and PyTorch's own fp32 error shows it.
    x32 = {k: (v.to(device).float() if v.is_floating_point() else v.to(device)) for k, v in x.items()}
    fp32 = outputs_and_grads(torch, case, x32, diff_names, outputs, grads, device)
    tol = BF16_TOL if case["bf16"] else FP32_TOL
    for tensor, ref in want.items():
        baseline = rel_l2(fp32[tensor], ref)
        if tensor not in got:
            result["comparisons"].append({"tensor": tensor, "rel_l2": None, "torch_fp32_rel_l2": baseline, "tolerance": tol, "ok": False, "note": "missing"})
            continue
        err = rel_l2(got[tensor].to(device), ref)
        # Within tolerance, or no more than 4x PyTorch's own fp32 error where fp32 itself cannot reach it.
        ok = err <= tol or err <= 4 * baseline
        result["comparisons"].append({"tensor": tensor, "rel_l2": err, "torch_fp32_rel_l2": baseline, "tolerance": tol, "ok": bool(ok),
                                      "note": "" if err <= tol else "fp32-conditioned"})
    return result


def outputs_and_grads(torch, case, x, diff_names, outputs, grads, device):
    """{output or grad_<input>: tensor} computed by reference() in x's dtype, gradients through autograd."""
    x = dict(x)
    for k in diff_names:
        x[k] = x[k].detach().requires_grad_(True)
    ref = reference(torch, case, x)
    objective = sum((ref[o] * grads[f"grad_{o}"].to(device).to(ref[o].dtype)).sum() for o in outputs)
    ref_grads = torch.autograd.grad(objective, [x[k] for k in diff_names])
    return {**{o: ref[o].detach() for o in outputs}, **{f"grad_{k}": g for k, g in zip(diff_names, ref_grads)}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mama", required=True)
    p.add_argument("--work", required=True, help="folder for the input/output files and each run's log")
    p.add_argument("--device", default="cuda", help="the engine device (default cuda)")
    p.add_argument("--json")
    p.add_argument("--only", default="", help="keep the cases whose name contains this text")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds per engine run")
    args = p.parse_args(argv)
    try:
        import torch
        import safetensors.torch as st
    except ImportError as e:
        print(f"device_parity.py: needs PyTorch and safetensors ({e}); run it on the GPU machine's Python "
              "(pip install torch safetensors)", file=sys.stderr)
        return 2
    os.makedirs(args.work, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = []
    for case in CASES:
        if args.only not in case["name"]:
            continue
        r = run_case(torch, st, args, case, device)
        results.append(r)
        worst = max((c["rel_l2"] for c in r["comparisons"] if c["rel_l2"] is not None), default=None)
        status = "ok" if r["engine_rc"] == 0 and all(c["ok"] for c in r["comparisons"]) else "FAIL"
        print(f"{r['case']:<28} {status:<4} {r['engine_seconds']:>7.1f} s  worst rel L2 "
              f"{'n/a' if worst is None else f'{worst:.2e}'}  {r.get('error', '')}", file=sys.stderr, flush=True)
    print(f"| case | dtype | tensor | engine rel L2 vs fp64 | PyTorch fp32 rel L2 vs fp64 | tolerance | ok |\n|---|---|---|---|---|---|---|")
    for r in results:
        if r["engine_rc"] != 0:
            print(f"| {r['case']} | {r['dtype']} | (engine exit {r['engine_rc']}) | {r.get('error', '')} | | | no |")
        for c in r["comparisons"]:
            err = "missing" if c["rel_l2"] is None else f"{c['rel_l2']:.2e}"
            verdict = ("yes" + (" (fp32-conditioned)" if c.get("note") else "")) if c["ok"] else "NO"
            print(f"| {r['case']} | {r['dtype']} | {c['tensor']} | {err} | {c['torch_fp32_rel_l2']:.2e} | {c['tolerance']:g} | {verdict} |")
    failed = [r["case"] for r in results if r["engine_rc"] != 0 or not all(c["ok"] for c in r["comparisons"])]
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"engine_device": args.device, "reference_device": device, "torch": torch.__version__,
                       "cases": results, "failed": failed}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
