#!/usr/bin/env python3
"""End-to-end cross-check of dssim against the independent PyTorch reference.

Synthesises a checkpoint with `dssim checkpoint synth`, runs `dssim golden` and
deepseek_ref.py on the same prompt, and compares the logits with compare.py (tolerance derived
in docs/torch-crosscheck.md). Exit 0 agree, 1 disagree, 2 a tool failed, 77 torch missing.

The prompt defaults to a fixed 16-token list reduced modulo the checkpoint's vocab_size (so
every model gets a valid, deterministic prompt). Both programs then decode --max-new-tokens
greedy steps, so the compared rows are the prefill positions followed by the decode steps
that go through the KV cache.

With --mtp both programs also run the MTP module (dssim: speculative decoding, `golden --mtp`)
and its draft logits are compared too, one row per position (tolerance of the MTP path).

Usage: crosscheck.py --dssim PATH --model deepseek-tiny [--mode demo|fp8]
                     [--attention absorbed|naive] [--tokens 1,2,3] [--max-new-tokens N]
                     [--mtp [--plant-ref-mtp-hidden post-norm]] [--workdir DIR]
"""
import json
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import torch  # noqa: F401
except ImportError as e:
    print(f"SKIP: {e} (scripts/setup.sh --test installs python3-torch)")
    sys.exit(77)

sys.dont_write_bytecode = True  # the reference modules are imported from the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BASE_PROMPT = [0, 3, 17, 250, 999, 5, 42, 7, 600, 123, 88, 1, 400, 77, 2, 31]
DECODE_STEPS = 4


def prompt_for(ckpt):
    """The base prompt reduced modulo the checkpoint's vocab_size (deterministic)."""
    with open(os.path.join(ckpt, "config.json")) as f:
        vocab = int(json.load(f)["vocab_size"])
    return ",".join(str(t % vocab) for t in BASE_PROMPT)


def step(cmd):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode != 0:
        print(f"command failed with exit code {r.returncode}")
        sys.exit(2)


def run_python(script, argv):
    """Runs deepseek_ref.py or compare.py in this process (torch is imported once per
    cross-check instead of once per step; that import dominates the run time)."""
    print("+ python3", os.path.join("tests/torch_ref", script), " ".join(argv), flush=True)
    sys.path.insert(0, HERE)
    module = __import__(script[:-3])
    return module.main(argv)


def ref_step(argv):
    rc = run_python("deepseek_ref.py", argv)
    if rc != 0:
        print(f"deepseek_ref.py failed with exit code {rc}")
        sys.exit(2)


def golden_generated(path):
    """dssim's generated tokens of sequence 0."""
    import h5py
    with h5py.File(path, "r") as f:
        seq = f["tokens"][0]
        return [int(t) for t in seq[int(f["prompt_lengths"][0]):int(f["sequence_lengths"][0])]]


def routing_flips(golden, dump, topk):
    """Prefill rows whose expert set differs between dssim (golden) and the torch reference.
    For each, the reference's selection scores around its top-k cut and the margin between
    dssim's extra expert and the reference's k-th choice, in BF16 steps of that score."""
    import h5py
    import numpy as np
    sys.path.insert(0, HERE)
    from compare import bf16_ulp
    flips = []
    ref = np.load(dump)
    with h5py.File(golden, "r") as f:
        step0 = f["tensors/step0"]
        for name in sorted(k for k in step0 if k.endswith("moe.gate.indices")
                           and k.startswith("layers.")):
            g, t = np.asarray(step0[name]), ref[name]
            sel = ref[name.replace("indices", "sel")]
            for row in range(g.shape[0]):
                gs, ts = set(g[row].tolist()), set(t[row].tolist())
                if gs == ts:
                    continue
                kth = sorted(sel[row])[::-1][topk - 1]
                margins = [float((kth - sel[row][e]) / bf16_ulp(kth)) for e in gs - ts]
                flips.append({"tensor": name, "row": row, "dssim_only": sorted(gs - ts),
                              "torch_only": sorted(ts - gs), "margin_bf16_steps": margins})
    return flips


def selection_margin(ref, name, row, dssim_only, topk, topk_group):
    """How far below the reference's k-th selection score dssim's extra experts are, in BF16
    steps of that score. An expert of a group the reference did not keep (score -inf) is
    measured at the group level: the reference's topk_group-th group score minus the score
    of the expert's group."""
    import numpy as np
    sys.path.insert(0, HERE)
    from compare import bf16_ulp
    sel = ref[name.replace("indices", "sel")][row]
    kth = sorted(sel)[::-1][topk - 1]
    margins = []
    for e in dssim_only:
        if np.isfinite(sel[e]):
            margins.append(float((kth - sel[e]) / bf16_ulp(kth)))
            continue
        gs = ref[name.replace("indices", "group_scores")][row]
        group = e // (len(sel) // len(gs))
        gk = sorted(gs)[::-1][topk_group - 1]
        margins.append(float((gk - gs[group]) / bf16_ulp(gk)))
    return margins


def mtp_routing_flips(golden, dump, topk, topk_group):
    """MTP rows (one per position) whose MTP-block expert set differs between dssim and the
    reference, with the margin of each of dssim's extra experts (selection_margin)."""
    import h5py
    import numpy as np
    ref = np.load(dump)
    name = "mtp.0.moe.gate.indices"
    if name not in ref:
        return []  # the MTP block is dense
    flips = []
    with h5py.File(golden, "r") as f:
        cursor = {}
        for step, seq, pos in np.asarray(f["mtp_logits_index"]).tolist():
            row = cursor.get(step, 0)
            cursor[step] = row + 1
            if seq != 0:
                continue
            g = set(np.asarray(f[f"tensors/step{step}/{name}"][row]).tolist())
            t = set(ref[name][pos].tolist())
            if g != t:
                flips.append({"tensor": name, "row": pos, "dssim_only": sorted(g - t),
                              "torch_only": sorted(t - g),
                              "margin_bf16_steps": selection_margin(
                                  ref, name, pos, sorted(g - t), topk, topk_group)})
    return flips


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dssim", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=["demo", "fp8"], default="demo")
    ap.add_argument("--attention", choices=["absorbed", "naive"], default="absorbed")
    ap.add_argument("--tokens", help="prompt (default: the base prompt modulo vocab_size)")
    ap.add_argument("--max-new-tokens", type=int, default=DECODE_STEPS,
                    help="greedy decode steps compared after the prefill")
    ap.add_argument("--scale-fmt", choices=["ue8m0", "f32"],
                    help="fp8 activation scale format for both programs (default: config's)")
    ap.add_argument("--mtp", action="store_true",
                    help="also run and compare the MTP module's draft logits")
    ap.add_argument("--plant-ref-mtp-variant", choices=["vllm"],
                    help="negative control: the reference's MTP takes vLLM's inputs (final-norm "
                    "output, embedding zeroed at position 0); exit 0 only if the comparison "
                    "then FAILS")
    ap.add_argument("--workdir")
    ap.add_argument("--plant-ref-max-seq-len", type=int,
                    help="negative control: run the reference with this max_seq_len (at or "
                    "below original_max_position_embeddings it drops YaRN and mscale) and "
                    "exit 0 only if the comparison then FAILS (exit 1)")
    args = ap.parse_args()
    rc = run(args)
    if args.plant_ref_max_seq_len is None and args.plant_ref_mtp_variant is None:
        return rc
    print(f"negative control: comparison exit code {rc}, expected 1")
    return 0 if rc == 1 else 1


def run(args):
    with tempfile.TemporaryDirectory(prefix="crosscheck_") as tmp:
        work = args.workdir or tmp
        ckpt = os.path.join(work, args.model)
        stem = os.path.join(work, f"{args.model}-{args.mode}-{args.attention}"
                            + (f"-{args.scale_fmt}" if args.scale_fmt else "")
                            + ("-mtp" if args.mtp else ""))
        golden, ref, dump = stem + ".h5", stem + ".npz", stem + ".dump.npz"
        step([args.dssim, "checkpoint", "synth", "--model", args.model, "--seed", "1",
              "--out", ckpt])
        tokens = args.tokens or prompt_for(ckpt)
        n_new = str(args.max_new_tokens)
        # --tensors all: the gate indices are needed to detect (and if need be pin) routing.
        step([args.dssim, "golden", "--checkpoint", ckpt, "--tokens", tokens, "--mode",
              args.mode, "--attention", args.attention, "--max-new-tokens", n_new,
              "--tensors", "all", "--out", golden]
             + (["--scale-fmt", args.scale_fmt] if args.scale_fmt else [])
             + (["--mtp"] if args.mtp else []))
        # The reference feeds dssim's generated tokens at the decode steps, so one near-tie
        # argmax cannot make the later rows compare different inputs; its own argmax is
        # still checked against dssim's at every row (top-1 in compare.py).
        follow = golden_generated(golden)
        ref_cmd = ["--checkpoint", ckpt, "--tokens", tokens, "--mode", args.mode, "--attention", args.attention,
                   "--max-new-tokens", n_new]
        if args.scale_fmt:
            ref_cmd += ["--scale-fmt", args.scale_fmt]
        if args.plant_ref_max_seq_len is not None:
            ref_cmd += ["--max-seq-len", str(args.plant_ref_max_seq_len)]
        if args.mtp:
            ref_cmd += ["--mtp"]
        if args.plant_ref_mtp_variant:
            ref_cmd += ["--mtp-variant", args.plant_ref_mtp_variant]
        if follow:
            ref_cmd += ["--follow", ",".join(map(str, follow))]
        ref_step(ref_cmd + ["--dump", dump, "--out", ref])
        with open(os.path.join(ckpt, "config.json")) as f:
            cfg = json.load(f)
        topk = cfg.get("num_experts_per_tok") or 0
        flips = routing_flips(golden, dump, topk) if topk else []
        for fl in flips:
            print(f"routing flip: {fl['tensor']} row {fl['row']}: dssim {fl['dssim_only']} "
                  f"vs torch {fl['torch_only']}; dssim's expert is "
                  f"{fl['margin_bf16_steps']} BF16 steps below torch's k-th score")
        print(f"unpinned routing flips (prefill): {len(flips)}")
        cmp_cmd = ["--golden", golden, "--checkpoint", ckpt, "--mode", args.mode, "--attention", args.attention]
        if args.mtp:
            cmp_cmd += ["--mtp"]
        if flips and args.mtp:
            # Pinning replays dssim's per-step gate indices; with speculative decoding dssim's
            # decode steps have draft rows the reference does not run.
            print("FAIL: routing flips with --mtp (pinning needs a run without --mtp)")
            return 1
        mflips = mtp_routing_flips(golden, dump, topk, cfg.get("topk_group") or 1) \
            if args.mtp and topk else []
        for fl in mflips:
            print(f"MTP routing flip: row {fl['row']}: dssim {fl['dssim_only']} vs torch "
                  f"{fl['torch_only']}; dssim's experts are {fl['margin_bf16_steps']} BF16 "
                  f"steps below torch's cut")
        if args.mtp:
            print(f"unpinned MTP routing flips: {len(mflips)}")
        if mflips:
            if any(m > 1.0 for fl in mflips for m in fl["margin_bf16_steps"]):
                print("FAIL: an MTP routing difference larger than one BF16 step is not a "
                      "near-tie")
                return 1
            print("all MTP flips are near-ties: comparing with the MTP routing pinned to dssim's")
            ref_step(ref_cmd + ["--mtp-route-from", golden, "--out", ref])
        if flips:
            if any(m > 1.0 for fl in flips for m in fl["margin_bf16_steps"]):
                print("FAIL: a routing difference larger than one BF16 step is not a near-tie")
                return 1
            # Near-ties only: compare with the routing pinned to dssim's choices.
            print("all flips are near-ties: comparing with routing pinned to dssim's")
            ref_step(ref_cmd + ["--route-from", golden, "--out", ref])
        return run_python("compare.py", cmp_cmd + ["--torch", ref])


if __name__ == "__main__":
    sys.exit(main())
