#!/usr/bin/env python3
"""dssim's reference runtime against PyTorch on the CPU in BF16: the same forward pass.

The work: prefill N prompt tokens (logits for every position, as dssim computes them), then M
greedy decode steps through the KV cache; both programs generate M + 1 tokens. dssim runs as
`dssim run --threads T` (its own timing of the generate call, printed on stderr); PyTorch runs a
compact BF16 implementation of DeepSeek's official demo forward (model.py with
gemm_impl="bf16": BF16 F.linear, absorbed MLA with the latent KV cache, FP32 softmax, the
sigmoid group-limited gate, a Python loop over the routed experts that received tokens, shared
experts), with torch.set_num_threads(T). Weights are loaded with tests/torch_ref/deepseek_ref.py
(which also reads the config), outside the timed region; dssim gets one untimed warm-up run so
its memory-mapped checkpoint is in the page cache.

Candidates run interleaved, R repetitions each, so load from other processes hits both alike.
Reported: best and median wall time per candidate and the ratio torch / dssim (> 1: dssim is
faster), plus whether the generated tokens agree (BF16 accumulation order differs, so a near-tie
can legitimately flip one; informational).

Usage: torch_speed.py --dssim build/release/bin/dssim --checkpoint DIR [--checkpoint DIR2 ...]
                      [--prefill 64] [--decode 16] [--threads 2] [--repeats 3] [--json]
Only for BF16 checkpoints (FP8 ones would add the demo's per-call weight dequantisation).
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

# libgomp's default active waiting makes every parallel region wait for descheduled threads
# when the machine is oversubscribed (2 threads took 20-40x longer than 1 under load 12 on 2
# cores); passive waiting keeps PyTorch's threads usable there. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "torch_ref"))
import deepseek_ref as R  # noqa: E402

BF16 = torch.bfloat16


class DemoBf16:
    """DeepSeek's demo forward in native BF16 PyTorch ops, weights taken from deepseek_ref."""

    def __init__(self, ckpt):
        m = R.Model(ckpt, "demo", "absorbed")
        self.m, self.cfg = m, m.cfg
        for layer in m.layers:
            for w in self._weights(layer):
                if w.fp8:
                    raise SystemExit(f"{ckpt}: FP8 weights; this benchmark takes BF16 checkpoints")
        # freqs_cis as the demo: complex64 [max_seq_len, rope/2] from FP32 cos/sin.
        self.freqs = torch.complex(m.cos, m.sin)
        self.scale = m.softmax_scale

    @staticmethod
    def _weights(layer):
        out = [v for v in layer["attn"].values() if isinstance(v, R.Weight)]
        mlps = [layer["mlp"]] if "mlp" in layer else \
            layer["moe"]["experts"] + ([layer["moe"]["shared"]] if layer["moe"]["shared"] else [])
        for mlp in mlps:
            out += list(mlp.values())
        return out

    def rms_norm(self, x, w):
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.cfg.eps)
        return y.type_as(x) * w

    def rope(self, x, freqs):  # x [s, ..., rope], interleaved pairs
        shape = x.shape
        xc = torch.view_as_complex(x.float().reshape(*shape[:-1], -1, 2))
        f = freqs.view(freqs.shape[0], *([1] * (xc.dim() - 2)), freqs.shape[-1])
        return torch.view_as_real(xc * f).flatten(-2).type_as(x)

    def mlp(self, x, m):
        return F.linear(F.silu(F.linear(x, m["gate_proj"].bf16)) * F.linear(x, m["up_proj"].bf16),
                        m["down_proj"].bf16)

    def moe(self, x, m):
        cfg = self.cfg
        scores = F.linear(x, m["gate"])
        scores = scores.sigmoid() if cfg.score_func == "sigmoid" else \
            scores.softmax(-1, dtype=torch.float32)
        original = scores
        if m["bias"] is not None:
            scores = scores + m["bias"]
        if cfg.n_group > 1:
            g = scores.view(x.shape[0], cfg.n_group, -1)
            gs = g.amax(-1) if m["bias"] is None else g.topk(2, dim=-1)[0].sum(-1)
            keep = gs.topk(cfg.topk_group, dim=-1)[1]
            mask = torch.ones_like(gs, dtype=torch.bool).scatter_(1, keep, False)
            scores = g.masked_fill(mask.unsqueeze(-1), float("-inf")).flatten(1)
        idx = scores.topk(cfg.topk, dim=-1)[1]
        w = original.gather(1, idx)
        if cfg.score_func == "sigmoid":
            w = w / w.sum(-1, keepdim=True)
        w = (w * cfg.route_scale).type_as(x)
        y = torch.zeros_like(x)
        counts = torch.bincount(idx.flatten(), minlength=cfg.n_experts).tolist()
        for e, n in enumerate(counts):
            if n == 0:
                continue
            rows, slot = torch.where(idx == e)
            y[rows] += self.mlp(x[rows], m["experts"][e]) * w[rows, slot, None]
        if m["shared"] is not None:
            y = y + self.mlp(x, m["shared"])
        return y

    def attn(self, x, a, start, cache):
        cfg, H = self.cfg, self.cfg.n_heads
        s = x.shape[0]
        end = start + s
        if cfg.q_lora:
            q = F.linear(self.rms_norm(F.linear(x, a["q_a"].bf16), a["q_norm"]), a["q_b"].bf16)
        else:
            q = F.linear(x, a["q"].bf16)
        q = q.view(s, H, cfg.nope + cfg.rope)
        q_nope, q_pe = q.split([cfg.nope, cfg.rope], -1)
        freqs = self.freqs[start:end]
        q_pe = self.rope(q_pe, freqs)
        kv = F.linear(x, a["kv_a"].bf16)
        kv, k_pe = kv.split([cfg.kv_lora, cfg.rope], -1)
        k_pe = self.rope(k_pe, freqs)
        wkv_b = a["kv_b"].bf16.view(H, cfg.nope + cfg.v_dim, cfg.kv_lora)
        q_nope = torch.einsum("shd,hdc->shc", q_nope, wkv_b[:, :cfg.nope])
        cache["kv"][start:end] = self.rms_norm(kv, a["kv_norm"])
        cache["pe"][start:end] = k_pe
        scores = (torch.einsum("shc,tc->sht", q_nope, cache["kv"][:end]) +
                  torch.einsum("shr,tr->sht", q_pe, cache["pe"][:end])) * self.scale
        if s > 1:
            mask = torch.full((s, end), float("-inf")).triu_(start + 1)
            scores = scores + mask.unsqueeze(1).to(scores.dtype)
        scores = scores.softmax(-1, dtype=torch.float32).type_as(x)
        o = torch.einsum("sht,tc->shc", scores, cache["kv"][:end])
        o = torch.einsum("shc,hdc->shd", o, wkv_b[:, -cfg.v_dim:])
        return F.linear(o.flatten(1), a["o"].bf16)

    def forward(self, tokens, start, caches):
        x = self.m.embed[tokens]
        for layer, cache in zip(self.m.layers, caches):
            x = x + self.attn(self.rms_norm(x, layer["attn_norm"]), layer["attn"], start, cache)
            n = self.rms_norm(x, layer["ffn_norm"])
            x = x + (self.moe(n, layer["moe"]) if "moe" in layer else self.mlp(n, layer["mlp"]))
        return F.linear(self.rms_norm(x, self.m.norm), self.m.head).float()  # [s, vocab]

    @torch.inference_mode()
    def generate(self, prompt, decode_steps):
        cfg = self.cfg
        total = len(prompt) + decode_steps + 1
        caches = [{"kv": torch.zeros(total, cfg.kv_lora, dtype=BF16),
                   "pe": torch.zeros(total, cfg.rope, dtype=BF16)} for _ in self.m.layers]
        logits = self.forward(torch.tensor(prompt), 0, caches)
        out = [int(logits[-1].argmax())]
        pos = len(prompt)
        for _ in range(decode_steps):
            logits = self.forward(torch.tensor([out[-1]]), pos, caches)
            pos += 1
            out.append(int(logits[-1].argmax()))
        return out


def run_dssim(exe, ckpt, prompt, decode_steps, threads):
    """(generate seconds as dssim reports it, generated tokens)."""
    cmd = [exe, "run", "--checkpoint", ckpt, "--tokens", ",".join(map(str, prompt)),
           "--max-new-tokens", str(decode_steps + 1), "--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr}")
    t = re.search(r"generate ([0-9.]+) s", r.stderr)
    toks = re.search(r"sequence 0:([0-9 ]*)", r.stdout)
    if not t or not toks:
        raise SystemExit(f"unexpected dssim output:\n{r.stdout}{r.stderr}")
    return float(t.group(1)), [int(v) for v in toks.group(1).split()]


MODELS = {}


def bench(exe, ckpt, prefill, decode_steps, threads, repeats):
    with open(os.path.join(ckpt, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    # A fixed pseudo-random prompt (LCG), the same for both programs.
    prompt, v = [], 12345
    for _ in range(prefill):
        v = (v * 1103515245 + 12345) % (1 << 31)
        prompt.append(v % vocab)
    torch.set_num_threads(threads)
    if ckpt not in MODELS:  # loaded once per checkpoint (outside the timed region)
        t0 = time.perf_counter()
        MODELS[ckpt] = (DemoBf16(ckpt), time.perf_counter() - t0)
    model, load_s = MODELS[ckpt]
    model.generate(prompt[:8], 1)  # warm-up (allocator, oneDNN primitives)
    run_dssim(exe, ckpt, prompt, decode_steps, threads)  # warm-up (page cache)
    times = {"dssim": [], "torch": []}
    tokens = {}
    for _ in range(repeats):
        s, tokens["dssim"] = run_dssim(exe, ckpt, prompt, decode_steps, threads)
        times["dssim"].append(s)
        t0 = time.perf_counter()
        tokens["torch"] = model.generate(prompt, decode_steps)
        times["torch"].append(time.perf_counter() - t0)
    params = sum(t.numel() for t in model.m.ck.tensors.values())
    res = {"checkpoint": ckpt, "params": params, "prefill": prefill, "decode_steps": decode_steps,
           "threads": threads, "repeats": repeats, "torch_load_s": load_s,
           "torch_version": torch.__version__,
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           "tokens_equal": tokens["dssim"] == tokens["torch"],
           "first_token_difference": next((i for i, (a, b) in enumerate(
               zip(tokens["dssim"], tokens["torch"])) if a != b), None)}
    for k, ts in times.items():
        res[f"{k}_best_s"] = min(ts)
        res[f"{k}_median_s"] = statistics.median(ts)
        res[f"{k}_all_s"] = ts
    res["ratio_best"] = res["torch_best_s"] / res["dssim_best_s"]
    res["ratio_median"] = res["torch_median_s"] / res["dssim_median_s"]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dssim", required=True, help="the dssim executable")
    ap.add_argument("--checkpoint", action="append", required=True,
                    help="BF16 checkpoint directory (repeat for more models)")
    ap.add_argument("--prefill", type=int, default=64, help="prompt tokens")
    ap.add_argument("--decode", type=int, default=16, help="decode steps after the prefill")
    ap.add_argument("--threads", type=int, action="append",
                    help="threads for both programs (repeat for several; default 2)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repetitions")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args()
    results = []
    for ckpt, threads in [(c, t) for c in args.checkpoint for t in args.threads or [2]]:
        r = bench(args.dssim, ckpt, args.prefill, args.decode, threads, args.repeats)
        results.append(r)
        if not args.json:
            print(f"{os.path.basename(ckpt.rstrip('/'))}: {r['params'] / 1e6:.0f} M params, "
                  f"prefill {r['prefill']} + {r['decode_steps']} decode, {r['threads']} threads"
                  f"\n  dssim  best {r['dssim_best_s']:.3f} s  median {r['dssim_median_s']:.3f} s"
                  f"\n  torch  best {r['torch_best_s']:.3f} s  median {r['torch_median_s']:.3f} s"
                  f"  (torch {r['torch_version']}, load {r['torch_load_s']:.1f} s)"
                  f"\n  ratio torch/dssim: best {r['ratio_best']:.2f}  median "
                  f"{r['ratio_median']:.2f}  tokens equal: {r['tokens_equal']}"
                  + ("" if r["tokens_equal"] else
                     f" (first difference at generated token {r['first_token_difference']})"),
                  flush=True)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
