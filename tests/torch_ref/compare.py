#!/usr/bin/env python3
"""Compares dssim's golden logits (HDF5) with the independent PyTorch reference (npz).

Per position: max abs error, relative L2 error, cosine similarity, top-1 agreement, top-5
overlap. The tolerance is derived from BF16/E4M3 rounding and the model depth (see
docs/torch-crosscheck.md, "Tolerance"); it is computed from the checkpoint's config.json, the
numerics mode and the attention form, never fitted to results.

With --mtp it also compares the MTP module's draft logits (golden /mtp_logits against the
reference's mtp_logits) with the tolerance of the longer MTP path, top-1 at every position.

Usage: compare.py --golden G.h5 --torch T.npz --checkpoint DIR [--mode demo|fp8]
                  [--attention absorbed|naive] [--mtp] [--json]
Exit: 0 within tolerance, 1 outside, 2 bad input.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

U_BF16 = 2.0 ** -8   # unit roundoff of BF16 (8 significand bits)
U_E4M3 = 2.0 ** -4   # unit roundoff of E4M3 (4 significand bits)
COVERAGE = 4.0       # 4 standard deviations of the summed rounding noise


def rounding_stages(cfg, mode, attention, mtp=False):
    """(BF16 roundings, E4M3 activation quantisations) on the longest path from the
    embedding to the logits, counted from the spec (docs/torch-crosscheck.md). mtp: to the
    MTP module's logits (main layers, hnorm, eh_proj, the MTP block, its norm and head)."""
    q_lora = bool(cfg.get("q_lora_rank"))
    # RMSNorm (cast + weight: 2), q chain (wq_a, q_norm 2, wq_b: 4; or wq: 1), RoPE 1,
    # scores (absorbed: W_UK 1, two score einsums 1, their add 1; naive: 1), scale 1,
    # softmax 1, PV (absorbed: 2, naive: 1), wo 1, residual add 1.
    attn = 2 + (4 if q_lora else 1) + 1 + (3 if attention == "absorbed" else 1) + 1 + 1 \
        + (2 if attention == "absorbed" else 1) + 1 + 1
    # E4M3 quantisations of GEMM inputs on that path (fp8 mode): q chain, wo, and in naive form
    # the latent before wkv_b (on the k/v chain, taken as part of the path: conservative).
    attn8 = (2 if q_lora else 1) + 1 + (1 if attention == "naive" else 0)
    dense = 2 + 1 + 1 + 1 + 1 + 1       # norm 2, w1, silu, *w3, w2, residual
    k = cfg.get("num_experts_per_tok") or 0
    moe = 2 + 4 + 1 + k + 1 + 1         # norm, expert MLP 4, *weight, k BF16 adds, +shared, res
    n_dense = cfg.get("first_k_dense_replace", 0)
    freq = cfg.get("moe_layer_freq", 1) or 1
    n16 = n8 = 0
    n_layers = cfg["num_hidden_layers"]
    for i in range(n_layers + (1 if mtp else 0)):  # the MTP block is layer n_layers
        is_moe = (cfg.get("n_routed_experts") or 0) > 0 and i >= n_dense and \
            (i - n_dense) % freq == 0
        n16 += attn + (moe if is_moe else dense)
        n8 += attn8 + 2                 # + w1/w3 input and w2 input
    if mtp:
        n16 += 2 + 1                    # hnorm (cast + weight), eh_proj GEMM
        n8 += 1                         # eh_proj input (if eh_proj is FP8; BF16 in V3)
    n16 += 2 + 1                        # final norm (MTP: shared_head.norm), head GEMM
    fp8_weights = bool(cfg.get("quantization_config"))
    return n16, (n8 if (mode == "fp8" and fp8_weights) else 0)


def noise_variance(cfg, mode, attention, mtp=False):
    """Relative variance of one implementation's deviation from exact arithmetic: each
    rounding is an independent relative error uniform in [-u, u] (variance u^2/3)."""
    n16, n8 = rounding_stages(cfg, mode, attention, mtp)
    return (n16 * U_BF16 ** 2 + n8 * U_E4M3 ** 2) / 3.0


def tolerance(cfg, mode_a, attention_a, mode_b=None, attention_b=None, mtp=False):
    """Bound on the relative L2 error between two implementations a and b (mtp: of the MTP
    module's logits)."""
    mode_b = mode_b or mode_a
    attention_b = attention_b or attention_a
    var = noise_variance(cfg, mode_a, attention_a, mtp) + \
        noise_variance(cfg, mode_b, attention_b, mtp)
    rel = COVERAGE * math.sqrt(var)
    return {"rel_l2": rel,
            "cosine": 1.0 - rel * rel / 2.0,
            # elementwise: max of V roughly Gaussian errors of RMS rel*rms(ref)
            "max_abs_over_rms": rel * math.sqrt(2.0 * math.log(2.0 * cfg["vocab_size"]))}


def bf16_ulp(x):
    """Spacing of BF16 values at |x| (8 significand bits)."""
    x = abs(float(x))
    if x < 2.0 ** -126:
        return 2.0 ** -133
    return 2.0 ** (math.floor(math.log2(x)) - 7)


def top1_near_tie(a_row, b_row):
    """A top-1 disagreement is a near-tie when, in BOTH implementations, the two candidate
    tokens' logits are at most one BF16 step apart: the logits are BF16 results of the head,
    so two values one rounding apart are ordered by that rounding alone. Returns a dict with
    the margins (in BF16 steps), or None when the disagreement is not a near-tie."""
    ia, ib = int(np.argmax(a_row)), int(np.argmax(b_row))
    ma = (a_row[ia] - a_row[ib]) / bf16_ulp(a_row[ia])
    mb = (b_row[ib] - b_row[ia]) / bf16_ulp(b_row[ib])
    info = {"candidate_top1": ia, "reference_top1": ib,
            "candidate_margin_bf16_steps": float(ma), "reference_margin_bf16_steps": float(mb)}
    return info if ma <= 1.0 and mb <= 1.0 else None


def compare(a, b, tol, require_top1=True):
    """a: candidate logits [P, V], b: reference [P, V]. Returns (ok, report dict)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        return False, {"error": f"shape mismatch {a.shape} vs {b.shape}"}
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False, {"error": "non-finite logits"}
    diff = a - b
    rms = np.sqrt((b ** 2).mean(1))
    max_abs = np.abs(diff).max(1)
    rel = np.linalg.norm(diff, axis=1) / np.linalg.norm(b, axis=1)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    top1 = a.argmax(1) == b.argmax(1)
    near_ties, real_flips = [], []
    for p in np.nonzero(~top1)[0]:
        info = top1_near_tie(a[p], b[p])
        (near_ties if info else real_flips).append(dict(info or {}, position=int(p)))
    band = tol["max_abs_over_rms"] * rms  # a rank may legitimately change within 2*band
    top5_ok, overlap = [], []
    for p in range(a.shape[0]):
        ta, tb = np.argsort(-a[p], kind="stable")[:5], np.argsort(-b[p], kind="stable")[:5]
        overlap.append(len(set(ta) & set(tb)))
        fifth, sixth = np.sort(b[p])[::-1][4:6]
        top5_ok.append(overlap[-1] == 5 or fifth - sixth <= 2 * band[p])
    checks = {"rel_l2": bool((rel <= tol["rel_l2"]).all()),
              "cosine": bool((cos >= tol["cosine"]).all()),
              "max_abs": bool((max_abs <= band).all()),
              "top5": bool(all(top5_ok))}
    if require_top1:
        # Exact agreement, except documented near-ties (reported, never silently accepted).
        checks["top1"] = not real_flips
    report = {"positions": int(a.shape[0]), "vocab": int(a.shape[1]),
              "max_abs_error": float(max_abs.max()), "max_rel_l2": float(rel.max()),
              "min_cosine": float(cos.min()), "top1_agreement": float(top1.mean()),
              "top1_mismatch_positions": [int(p) for p in np.nonzero(~top1)[0]],
              "top1_near_ties": near_ties,
              "mean_top5_overlap": float(np.mean(overlap)),
              "tolerance": tol, "checks": checks}
    return all(checks.values()), report


def load_golden(path, sequence=0):
    """(logits [rows, vocab] FP32, tokens [n], attrs) of one sequence of a dssim golden file
    (docs/golden-and-check.md): /tokens [sequences, longest] padded with -1, /logits
    [rows, vocab] with /logits_index [rows, 3] = (step, sequence, position). A 1-D /tokens
    without /logits_index is taken as a single sequence."""
    import h5py
    with h5py.File(path, "r") as f:
        for key in ("logits", "tokens"):
            if key not in f:
                raise ValueError(f"{path}: missing dataset /{key}")
        logits = np.asarray(f["logits"], dtype=np.float32)
        tokens = np.asarray(f["tokens"], dtype=np.int64)
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        if tokens.ndim == 2:
            if not 0 <= sequence < tokens.shape[0]:
                raise ValueError(f"{path}: /tokens has no sequence {sequence}")
            tokens = tokens[sequence]
            tokens = tokens[tokens >= 0]
        if "logits_index" in f:
            logits = rows_of_sequence(path, "logits", logits, f["logits_index"], sequence)
    return logits, tokens, attrs


def rows_of_sequence(path, name, logits, index, sequence):
    """The rows of one sequence, one per position 0..n-1. With MTP speculative decoding a
    position can appear twice: a rejected draft row (fed the draft token) and the later row
    fed the true token; the later one is the model's output for the actual sequence."""
    index = np.asarray(index, dtype=np.int64)
    last = {}
    for row in np.nonzero(index[:, 1] == sequence)[0]:
        last[int(index[row, 2])] = int(row)
    if sorted(last) != list(range(len(last))):
        raise ValueError(f"{path}: /{name}_index: positions of sequence {sequence} are not "
                         f"0..n-1")
    return logits[[last[p] for p in range(len(last))]]


def load_golden_mtp(path, sequence=0):
    """The MTP draft logits [n, vocab] of one sequence (row p predicts the token at p + 2)."""
    import h5py
    with h5py.File(path, "r") as f:
        if "mtp_logits" not in f or "mtp_logits_index" not in f:
            raise ValueError(f"{path}: no /mtp_logits (write it with dssim golden --mtp)")
        return rows_of_sequence(path, "mtp_logits", np.asarray(f["mtp_logits"], np.float32),
                                f["mtp_logits_index"], sequence)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--golden", required=True, help="dssim golden HDF5 (/logits, /tokens)")
    ap.add_argument("--torch", required=True, help="deepseek_ref.py output (.npz)")
    ap.add_argument("--checkpoint", required=True, help="checkpoint dir (for config.json)")
    ap.add_argument("--mode", choices=["demo", "fp8"], default="demo")
    ap.add_argument("--attention", choices=["absorbed", "naive"], default="absorbed")
    ap.add_argument("--sequence", type=int, default=0, help="sequence of the golden file")
    ap.add_argument("--mtp", action="store_true",
                    help="also compare the MTP draft logits (/mtp_logits vs mtp_logits)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    try:
        with open(os.path.join(args.checkpoint, "config.json")) as f:
            cfg = json.load(f)
        g_logits, g_tokens, attrs = load_golden(args.golden, args.sequence)
        for key in ("mode", "attention"):
            if key in attrs and attrs[key] != getattr(args, key):
                raise ValueError(f"{args.golden}: attribute {key} is {attrs[key]!r}, "
                                 f"expected {getattr(args, key)!r}")
        ref = np.load(args.torch)
        t_logits, t_tokens = ref["logits"], ref["tokens"]
        if args.mtp:
            g_mtp, t_mtp = load_golden_mtp(args.golden, args.sequence), ref["mtp_logits"]
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    tol = tolerance(cfg, args.mode, args.attention)
    ok, rep = compare(g_logits, t_logits, tol)
    rep["tokens_equal"] = bool(np.array_equal(g_tokens, t_tokens))
    ok = ok and rep["tokens_equal"]
    reports = [("", rep, tol)]
    if args.mtp:
        mtol = tolerance(cfg, args.mode, args.attention, mtp=True)
        mok, mrep = compare(g_mtp, t_mtp, mtol)
        rep["mtp"] = mrep
        reports.append(("mtp ", mrep, mtol))
        ok = ok and mok
    if args.json:
        print(json.dumps(rep, indent=1))
    else:
        for what, r, t in reports:
            print(f"{what}positions {r.get('positions')}  max|d| {r.get('max_abs_error', 0):.4g}  "
                  f"rel_l2 {r.get('max_rel_l2', 0):.4g} (tol {t['rel_l2']:.4g})  "
                  f"cos {r.get('min_cosine', 0):.6f} (tol {t['cosine']:.6f})  "
                  f"top1 {r.get('top1_agreement', 0):.3f}  "
                  f"top5 {r.get('mean_top5_overlap', 0):.2f}"
                  + (f"  tokens_equal {r['tokens_equal']}" if not what else ""))
            for n in r.get("top1_near_ties", []):
                print(f"{what}top1 near-tie at row {n['position']}: candidate "
                      f"{n['candidate_top1']} (+{n['candidate_margin_bf16_steps']:g} BF16 steps "
                      f"over {n['reference_top1']}), reference {n['reference_top1']} "
                      f"(+{n['reference_margin_bf16_steps']:g} steps)")
            if "error" in r:
                print(f"{what}error:", r["error"])
            for name, passed in r.get("checks", {}).items():
                if not passed:
                    print(f"FAILED: {what}{name}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
